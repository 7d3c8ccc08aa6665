// SQL text helpers shared by backup and restore: the one place names and literals are quoted.

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A string literal, valid whatever standard_conforming_strings says: E'' form when it holds backslashes. */
export function quoteLiteral(value: string): string {
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

// Reserved keywords (PostgreSQL 13–18): a bare name may be any non-reserved word.
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check ' +
    'collate collation column concurrently constraint create cross current_catalog current_date ' +
    'current_role current_schema current_time current_timestamp current_user default deferrable desc ' +
    'distinct do else end except false fetch for foreign freeze from full grant group having ilike in ' +
    'initially inner intersect into is isnull join lateral leading left like limit localtime ' +
    'localtimestamp natural not notnull null offset on only or order outer overlaps placing primary ' +
    'references returning right select session_user similar some symmetric system_user table ' +
    'tablesample then to trailing true union unique user using variadic verbose when where window with'
  ).split(' '),
);

/**
 * An identifier quoted only when it must be, as the server's quote_ident() does: what the
 * captured DDL uses for names spliced on the client (roles, options), so it reads as pg_dump's.
 */
export function quoteIdentLikeServer(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** YugabyteDB reports a PostgreSQL version with `-YB-` in it (`11.2-YB-2.20.1.0-b0`). */
export function isYugabyte(serverVersion: string): boolean {
  return /-YB-/.test(serverVersion);
}

export interface ServerVersion {
  /** server_version_num, e.g. 150004. */
  num: number;
  /** server_version, e.g. `15.4` or `11.2-YB-2.20.1.0-b0`. */
  text: string;
  major: number;
  yugabyte: boolean;
}

/** The server's version: the one probe every step uses. */
export async function serverVersion(query: <Row>(sql: string) => Promise<Row[]>): Promise<ServerVersion> {
  const [row] = await query<{ num: number; text: string }>(
    `SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS num, pg_catalog.current_setting('server_version') AS text`,
  );
  return { num: row!.num, text: row!.text, major: Math.floor(row!.num / 10000), yugabyte: isYugabyte(row!.text) };
}
