// Compares the contents of two databases, possibly on different servers and major versions:
// every row of a table as text (`t::text`), as a multiset. Sessions fix the output settings so
// both sides render values the same way; rows are sorted in JS, so collation plays no part.
import pg from 'pg';

const OUTPUT_SETTINGS = [
  `SET TimeZone = 'UTC'`,
  `SET DateStyle = 'ISO, YMD'`,
  `SET IntervalStyle = 'postgres'`,
  `SET extra_float_digits = 3`,
  `SET bytea_output = 'hex'`,
];

export async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of OUTPUT_SETTINGS) await client.query(s);
    return await run(client);
  } finally {
    await client.end();
  }
}

/** User tables (ordinary and partitioned leaves) as `schema.name`, quoted, sorted. */
export async function listTables(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> '_tidemark_restore'
        ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  });
}

async function rowTexts(url: string, table: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ r: string }>(`SELECT t::text AS r FROM ONLY ${table} t`);
    return rows.map((x) => x.r).sort();
  });
}

export interface TableDifference {
  table: string;
  sourceRows: number;
  targetRows: number;
  /** Up to 5 rows in the source and not in the target (counting duplicates). */
  missing: string[];
  /** Up to 5 rows in the target and not in the source. */
  extra: string[];
  /** Set when the table exists on one side only. */
  absentFrom?: 'source' | 'target';
}

/** The multiset difference of `table` between two databases; `missing` and `extra` empty when equal. */
export async function compareTable(sourceUrl: string, targetUrl: string, table: string): Promise<TableDifference> {
  const [a, b] = await Promise.all([rowTexts(sourceUrl, table), rowTexts(targetUrl, table)]);
  const missing: string[] = [];
  const extra: string[] = [];
  let i = 0;
  let j = 0;
  while ((i < a.length || j < b.length) && (missing.length < 5 || extra.length < 5)) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) {
      if (missing.length < 5) missing.push(a[i]!);
      i++;
    } else if (i >= a.length || b[j]! < a[i]!) {
      if (extra.length < 5) extra.push(b[j]!);
      j++;
    } else {
      i++;
      j++;
    }
  }
  return { table, sourceRows: a.length, targetRows: b.length, missing, extra };
}

/** Every table of both databases compared; the table lists must match too. */
export async function compareDatabases(
  sourceUrl: string,
  targetUrl: string,
): Promise<{ tables: string[]; differences: TableDifference[] }> {
  const [sourceTables, targetTables] = await Promise.all([listTables(sourceUrl), listTables(targetUrl)]);
  const differences: TableDifference[] = [];
  for (const table of new Set([...sourceTables, ...targetTables])) {
    if (!sourceTables.includes(table) || !targetTables.includes(table)) {
      differences.push({
        table,
        sourceRows: 0,
        targetRows: 0,
        missing: [],
        extra: [],
        absentFrom: sourceTables.includes(table) ? 'target' : 'source',
      });
      continue;
    }
    const d = await compareTable(sourceUrl, targetUrl, table);
    if (d.missing.length > 0 || d.extra.length > 0 || d.sourceRows !== d.targetRows) differences.push(d);
  }
  return { tables: sourceTables, differences };
}
