// What the plan needs to know about each table beyond its schema: its heap size (to split it
// into ranges), the COPY format its rows travel in, its row type, and its integer primary key
// (which makes row-level incremental backups possible).
//
// Binary COPY is used only when every exported column's binary form is portable to other
// databases and newer majors: built-in base types (stable OIDs, stable send/receive formats;
// arrays of them embed only built-in element OIDs), enums (sent as labels), and domains over
// such types. Not: reg* types (they send OIDs), composites and arrays of user types (their binary
// form embeds OIDs that differ on the target), and extension types. Those tables use text.
//
// And binary only where it pays: it saves the server converting numbers, dates and times, bytea
// and uuids to text and back, but it adds a 4-byte length to every field, and fields that are
// text either way (text, varchar, json, booleans, enums) compress worse with those lengths
// between them: zstd stores a text-heavy table 12-15 % smaller in text form (bench data). So
// binary is used when at least half the columns are of such converted types, or there is a bytea
// column (hex doubles its size in text); otherwise text.
import type { CopyFormat } from '../copy-format.ts';

type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

export interface TableFacts {
  bytes: number;
  format: CopyFormat;
  /** Column types, comma-separated, in COPY column order. */
  rowType: string;
  /** The primary key's column when the key is one smallint, integer or bigint column. */
  key: string | null;
  /**
   * What must not change under a table for its old rows to stay valid (incremental-plan.ts):
   * its oid, every attribute (dropped ones too: a column dropped and added again has a new
   * attnum), and the enum labels and composite attributes of the types its columns use.
   */
  identity: string;
}

/** Type oids a column depends on for its values: itself, its domain's base, array elements. */
const COLUMN_TYPES = `(
  SELECT DISTINCT x.oid FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    CROSS JOIN LATERAL (VALUES (t.oid), (t.typbasetype), (t.typelem),
      ((SELECT b.typelem FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype))) x(oid)
   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND x.oid <> 0
)`;

const PORTABLE_BINARY = `(
  t.typtype = 'e'
  OR (b.oid < 16384 AND b.typtype = 'b' AND b.typsend <> 0 AND b.typreceive <> 0
      AND b.typname !~ '^_?reg' AND b.typname NOT IN ('aclitem', '_aclitem')
      AND (b.typelem = 0 OR b.typelem < 16384))
)`;

/** Types whose text form costs the server a conversion (and is often longer). */
const CONVERTED = `(b.typcategory IN ('N', 'D', 'T') OR b.oid IN ('pg_catalog.bytea'::pg_catalog.regtype, 'pg_catalog.uuid'::pg_catalog.regtype))`;

export async function readTableFacts(query: Query, tables: { schema: string; name: string }[]): Promise<TableFacts[]> {
  const rows = await query(
    `SELECT t.ord::int - 1 AS idx,
            pg_catalog.pg_relation_size(c.oid)::float8 AS bytes,
            coalesce((SELECT pg_catalog.bool_and(${PORTABLE_BINARY})
                             AND (2 * pg_catalog.count(*) FILTER (WHERE ${CONVERTED}) >= pg_catalog.count(*)
                                  OR pg_catalog.bool_or(b.oid = 'pg_catalog.bytea'::pg_catalog.regtype))
                        FROM pg_catalog.pg_attribute a
                        JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
                        JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), true) AS binary,
            (SELECT pg_catalog.string_agg(pg_catalog.format_type(a.atttypid, a.atttypmod), ',' ORDER BY a.attnum)
               FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS row_type,
            (SELECT a.attname
               FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1
                AND a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int8'::pg_catalog.regtype)) AS key,
            pg_catalog.md5(pg_catalog.concat_ws('|', c.oid, c.relnatts,
              (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attisdropped, a.attcollation), ',' ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0),
              (SELECT pg_catalog.string_agg(e.enumtypid || ':' || e.enumlabel, ',' ORDER BY e.enumtypid, e.enumsortorder)
                 FROM pg_catalog.pg_enum e WHERE e.enumtypid IN ${COLUMN_TYPES}),
              (SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', t.oid, ca.attnum, ca.attname, ca.atttypid, ca.atttypmod, ca.attisdropped), ',' ORDER BY t.oid, ca.attnum)
                 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_attribute ca ON ca.attrelid = t.typrelid AND ca.attnum > 0
                WHERE t.typtype = 'c' AND t.oid IN ${COLUMN_TYPES}))) AS identity
       FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) WITH ORDINALITY AS t(nspname, relname, ord)
       JOIN pg_catalog.pg_namespace n ON n.nspname = t.nspname
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.relname`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const facts: TableFacts[] = tables.map(() => ({ bytes: 0, format: 'text', rowType: '', key: null, identity: '' }));
  for (const r of rows)
    facts[Number(r.idx)] = {
      bytes: Number(r.bytes),
      format: r.binary ? 'binary' : 'text',
      rowType: r.row_type ?? '',
      key: r.key ?? null,
      identity: r.identity,
    };
  return facts;
}
