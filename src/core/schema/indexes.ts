// Indexes (those not owned by a constraint), partitioned-index attachments, CLUSTER ON,
// replica identity by index and per-column index statistics.
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';

interface IndexRow {
  oid: number;
  ident: string;
  /** Unqualified: CLUSTER ON and USING INDEX take the bare name (the index is in the table's schema). */
  name: string;
  table: string;
  def: string;
  valid: boolean;
  partitioned: boolean;
  clustered: boolean;
  replident: boolean;
  is_constraint: boolean;
  parent_index: string | null;
  /** [attnum, statistics target] */
  stats: [number, number][] | null;
}

export async function captureIndexes(capture: Capture): Promise<void> {
  const rows = await capture.query<IndexRow>(`
    SELECT i.indexrelid AS oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ic.relname) AS ident,
      pg_catalog.quote_ident(ic.relname) AS name,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table,
      pg_catalog.pg_get_indexdef(i.indexrelid) AS def, i.indisvalid AS valid, ic.relkind = 'I' AS partitioned,
      i.indisclustered AS clustered, i.indisreplident AS replident,
      EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co WHERE co.conindid = i.indexrelid
        AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')) AS is_constraint,
      (SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.relname)
        FROM pg_catalog.pg_inherits h JOIN pg_catalog.pg_class p ON p.oid = h.inhparent
        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = i.indexrelid) AS parent_index,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(a.attnum, a.attstattarget) ORDER BY a.attnum)
        FROM pg_catalog.pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) AS stats
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm') AND ${USER_SCHEMA}
      AND ${notExtensionMember('pg_class', 'c.oid')}
    ORDER BY 2`);
  const invalid: string[] = [];
  for (const row of rows) {
    const object = `index ${row.ident}`;
    if (!row.valid && !row.partitioned && !row.is_constraint) {
      // A failed CREATE INDEX CONCURRENTLY leftover; pg_dump skips these too.
      invalid.push(row.ident);
      continue;
    }
    if (!row.is_constraint) capture.addPost(Wave.indexes, { object, kind: 'index', sql: row.def });
    capture.comments.set(key('pg_class', row.oid), { target: `INDEX ${row.ident}`, object, wave: Wave.dependents });
    if (row.parent_index) {
      capture.addPost(Wave.attach, {
        object,
        kind: 'index attach',
        sql: `ALTER INDEX ${row.parent_index} ATTACH PARTITION ${row.ident}`,
      });
    }
    if (row.clustered) {
      capture.addPost(Wave.attach, {
        object,
        kind: 'cluster',
        sql: `ALTER TABLE ONLY ${row.table} CLUSTER ON ${row.name}`,
      });
    }
    if (row.replident) {
      capture.addPost(Wave.attach, {
        object,
        kind: 'replica identity',
        sql: `ALTER TABLE ONLY ${row.table} REPLICA IDENTITY USING INDEX ${row.name}`,
      });
    }
    for (const [attnum, target] of row.stats ?? []) {
      capture.addPost(Wave.attach, {
        object,
        kind: 'index statistics',
        sql: `ALTER INDEX ${row.ident} ALTER COLUMN ${attnum} SET STATISTICS ${target}`,
      });
    }
  }
  if (invalid.length)
    capture.warnings.push(`invalid indexes not backed up (a failed CREATE INDEX CONCURRENTLY?): ${invalid.join(', ')}`);
}
