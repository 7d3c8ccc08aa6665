// Column definitions and the per-column settings CREATE TABLE cannot carry.
import type { DdlStatement } from './model.ts';
import type { ColumnRow } from './relations.ts';
import { fdwOptions, renderOptions } from './quote.ts';

const STORAGE: Record<string, string> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Record<string, string> = { p: 'pglz', l: 'lz4' };

/** One column of CREATE TABLE. `identityOptions` are the identity sequence's options. */
export function columnDefinition(col: ColumnRow, identityOptions: string | undefined): string {
  // A foreign table column's options come right after its type.
  let sql = `${col.ident} ${col.type}${fdwOptions(col.fdw_options)}`;
  if (col.collation) sql += ` COLLATE ${col.collation}`;
  if (col.generated) {
    sql += ` GENERATED ALWAYS AS (${col.default_expr}) ${col.generated === 'v' ? 'VIRTUAL' : 'STORED'}`;
  } else if (col.identity) {
    const how = col.identity === 'a' ? 'ALWAYS' : 'BY DEFAULT';
    sql += ` GENERATED ${how} AS IDENTITY${identityOptions ? ` (${identityOptions})` : ''}`;
  } else if (col.default_expr !== null && !col.default_separate) {
    sql += ` DEFAULT ${col.default_expr}`;
  }
  if (col.notnull) sql += col.notnull_name ? ` CONSTRAINT ${col.notnull_name} NOT NULL` : ' NOT NULL';
  return sql;
}

/** ALTER TABLE ONLY ... ALTER COLUMN statements for storage, statistics, compression, options. */
export function columnSettings(table: string, object: string, col: ColumnRow): DdlStatement[] {
  const alter = (what: string): DdlStatement => ({
    object,
    kind: 'column setting',
    sql: `ALTER TABLE ONLY ${table} ALTER COLUMN ${col.ident} ${what}`,
  });
  const out: DdlStatement[] = [];
  if (col.storage) out.push(alter(`SET STORAGE ${STORAGE[col.storage]}`));
  if (col.stattarget !== null) out.push(alter(`SET STATISTICS ${col.stattarget}`));
  if (col.compression) out.push(alter(`SET COMPRESSION ${COMPRESSION[col.compression]}`));
  if (col.options?.length) out.push(alter(`SET (${renderOptions(col.options)})`));
  return out;
}

/**
 * For a column a child inherits (not listed in its CREATE TABLE): what differs from the parent's
 * copy, which INHERITS gave it.
 */
export function inheritedColumnChanges(
  table: string,
  object: string,
  col: ColumnRow,
  parent?: ColumnRow,
): DdlStatement[] {
  const alter = (what: string): DdlStatement => ({
    object,
    kind: 'column setting',
    sql: `ALTER TABLE ONLY ${table} ALTER COLUMN ${col.ident} ${what}`,
  });
  const out: DdlStatement[] = [];
  if (col.notnull && !parent?.notnull) out.push(alter('SET NOT NULL'));
  // A default calling a user function is set by its own node (tables.ts).
  if (
    !col.generated &&
    !col.identity &&
    !col.default_separate &&
    (col.default_expr ?? null) !== (parent?.default_expr ?? null)
  ) {
    out.push(alter(col.default_expr === null ? 'DROP DEFAULT' : `SET DEFAULT ${col.default_expr}`));
  }
  return out;
}
