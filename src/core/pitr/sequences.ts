// After replay, the sequences that feed columns end at least as high as any value a replayed row
// holds there: test_decoding does not decode sequences, so the backup's values would hand out ids
// the replayed rows already use. A sequence feeds a column when the column owns it (serial,
// identity, OWNED BY) or when the column's default calls it (`DEFAULT nextval('s')` without
// OWNED BY, as hand-written schemas and some ORMs make them, or one sequence shared by several
// tables): the highest value over all its columns counts. (The source's own value at the target
// can be higher still — nextval calls of transactions that rolled back, or values an application
// took with `SELECT nextval` and stored elsewhere — and is not in the archive.)
import type { SqlSession } from '../ports/database.ts';
import { PROGRESS_SCHEMA } from '../restore/progress-table.ts';

/** The integer types a sequence's value can be stored in and compared as a number. */
const NUMERIC_TYPES =
  "'int2'::pg_catalog.regtype, 'int4'::pg_catalog.regtype, 'int8'::pg_catalog.regtype, 'numeric'::pg_catalog.regtype";

/** Which column each sequence feeds: `(seq, rel, attnum)`, by ownership or by a default that calls it. */
const FEEDS = `
  SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS attnum
    FROM pg_catalog.pg_depend d
   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
  UNION
  SELECT d.refobjid, ad.adrelid, ad.adnum
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid
   WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.deptype = 'n'`;

/** The oids of the sequences raiseOwnedSequences raises from their columns (ascending, fed to an integer column). */
export const RAISED_SEQUENCES = `
  SELECT f.seq FROM (${FEEDS}) f
    JOIN pg_catalog.pg_sequence q ON q.seqrelid = f.seq AND q.seqincrement > 0
    JOIN pg_catalog.pg_attribute a ON a.attrelid = f.rel AND a.attnum = f.attnum AND NOT a.attisdropped
   WHERE a.atttypid IN (${NUMERIC_TYPES})`;

export async function raiseOwnedSequences(session: SqlSession): Promise<string[]> {
  const fed = await session.query<{ seq: string; max: string; columns: { rel: string; col: string }[] }>(
    `WITH feeds AS (${FEEDS})
     SELECT s.oid::pg_catalog.regclass::text AS seq, q.seqmax::text AS max,
            pg_catalog.json_agg(pg_catalog.json_build_object('rel', c.oid::pg_catalog.regclass::text, 'col', pg_catalog.quote_ident(a.attname))
                                ORDER BY c.oid, a.attnum) AS columns
       FROM feeds f
       JOIN pg_catalog.pg_class s ON s.oid = f.seq AND s.relkind = 'S'
       JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid AND q.seqincrement > 0
       JOIN pg_catalog.pg_class c ON c.oid = f.rel AND c.relkind IN ('r', 'p')
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = f.attnum AND NOT a.attisdropped
      WHERE a.atttypid IN (${NUMERIC_TYPES})
        -- the restore's own progress tables are Tidemark's, not the database's
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace p WHERE p.oid = s.relnamespace AND p.nspname = '${PROGRESS_SCHEMA}')
        -- a partition's rows are counted once, through its root when the root is fed too
        AND NOT (c.relispartition AND EXISTS (SELECT 1 FROM feeds r WHERE r.seq = f.seq AND r.rel = pg_catalog.pg_partition_root(c.oid)))
      GROUP BY s.oid, q.seqmax ORDER BY 1`,
  );
  const raised: string[] = [];
  for (const { seq, max, columns } of fed) {
    const highest = columns
      .map(({ rel, col }) => `SELECT pg_catalog.max(${col})::numeric AS m FROM ${rel}`)
      .join(' UNION ALL ');
    // Never past the sequence's own maximum: a row above it was not the sequence's (setval would fail).
    const rows = await session.query(
      // LEAST ignores a NULL: an empty column must leave its sequence alone, not raise it to its maximum.
      `SELECT pg_catalog.setval($1::pg_catalog.regclass, LEAST(m, $2::numeric)::bigint)
         FROM (SELECT pg_catalog.max(m) AS m FROM (${highest}) v) x
        WHERE m IS NOT NULL AND LEAST(m, $2::numeric) > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq})`,
      [seq, max],
    );
    if (rows.length) raised.push(seq);
  }
  return raised;
}
