// Extension configuration tables (pg_extension_config_dump: pg_extension.extconfig/extcondition):
// CREATE EXTENSION restores the rows its script inserts; the rows the user added — those the
// extension's filter selects, every row without one — are backed up as table data through the
// normal chunk path (TableData.source), so incremental backups carry their changes. A
// configuration sequence's state is restored like any sequence's. As pg_dump does.
import { type Capture, key } from './context.ts';

interface ConfigRow {
  extension: number;
  schema: string;
  name: string;
  ident: string;
  relkind: string;
  condition: string | null;
  columns: string[] | null;
}

export async function captureExtensionConfiguration(capture: Capture): Promise<void> {
  const rows = await capture.query<ConfigRow>(`
    SELECT e.oid AS extension, n.nspname AS schema, c.relname AS name, c.relkind,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS ident, cfg.condition,
      (SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns
    FROM pg_catalog.pg_extension e
    CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(e.extconfig), pg_catalog.unnest(e.extcondition)) AS cfg(reloid, condition)
    JOIN pg_catalog.pg_class c ON c.oid = cfg.reloid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE e.oid >= 16384
    ORDER BY 2, 3`);
  for (const row of rows) {
    const node = key('pg_extension', row.extension);
    if (!capture.objects.has(node)) continue;
    if (row.relkind === 'S') {
      const [state] = await capture.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::pg_catalog.text AS last_value, is_called FROM ${row.ident}`,
      );
      capture.sequences.push({
        key: node,
        schema: row.schema,
        name: row.name,
        lastValue: state!.last_value,
        isCalled: state!.is_called,
      });
      continue;
    }
    if (row.relkind !== 'r') continue;
    const filter = whereCondition(row.condition ?? '');
    capture.tables.push({
      key: node,
      schema: row.schema,
      name: row.name,
      columns: row.columns ?? [],
      source: { kind: 'extension configuration', ...(filter ? { filter } : {}) },
    });
  }
}

/** pg_extension_config_dump's filter is a WHERE clause: its condition alone, or '' for none. */
export function whereCondition(filter: string): string {
  return filter.trim().replace(/^WHERE\s+/i, '');
}
