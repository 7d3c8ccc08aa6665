// SQL text helpers shared by backup and restore.

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

export function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** YugabyteDB reports a PostgreSQL version with `-YB-` in it (`11.2-YB-2.20.1.0-b0`). */
export function isYugabyte(serverVersion: string): boolean {
  return /-YB-/.test(serverVersion);
}
