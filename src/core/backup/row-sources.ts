// Rows that are not read as a whole table (TableData.source): an extension configuration table's
// user rows (its filter), and every large object's pieces. The export and the restore's read-back
// use the same query, so the rows come back byte for byte as they were hashed.
import type { TableData } from '../schema/model.ts';
import { LARGE_OBJECT_PIECES } from '../schema/large-objects.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';

/** The SELECT of a table with a `source`, with `conditions` (ctid ranges) added; undefined for any other table. */
export function sourceSelect(table: TableData, conditions: string[]): string | undefined {
  const source = table.source;
  if (!source) return undefined;
  if (source.kind === 'large objects') return LARGE_OBJECT_PIECES;
  const where = [...(source.filter ? [`(${source.filter})`] : []), ...conditions];
  return `SELECT ${table.columns.map(quoteIdent).join(', ')} FROM ONLY ${qualifiedName(table.schema, table.name)}${
    where.length ? ` WHERE ${where.join(' AND ')}` : ''
  }`;
}

/** ` WHERE filter` for a configuration table with a filter, else ''. */
export function sourceFilter(table: TableData): string {
  return table.source?.kind === 'extension configuration' && table.source.filter
    ? ` WHERE (${table.source.filter})`
    : '';
}
