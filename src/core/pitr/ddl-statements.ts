// The DDL capture records current_query(): for a query string of several statements, that is
// the whole string, once per DDL command in it. Replay runs only the statement each message
// stands for: the string is split at its top-level semicolons (quotes, dollar quotes and
// comments respected), and each message takes the next statement whose leading words match its
// command tag (FORMAT.md, "Point-in-time recovery").

export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]$/.test(sql.slice(Math.max(0, i - 1), i)) && !/\w/.test(sql[i - 2] ?? ' ');
      i++;
      while (i < sql.length) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith('/*', i)) depth++, (i += 2);
        else if (sql.startsWith('*/', i)) depth--, (i += 2);
        else i++;
      }
    } else if (c === '$' && !/\w/.test(sql[i - 1] ?? ' ')) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      } else i++;
    } else if (c === ';') {
      push(out, sql.slice(start, i));
      start = ++i;
    } else i++;
  }
  push(out, sql.slice(start));
  return out;
}

function push(out: string[], statement: string): void {
  if (withoutComments(statement).trim()) out.push(statement.trim());
}

/** The statement with its comments (nested block comments too) turned into spaces. */
export function withoutComments(sql: string): string {
  let out = sql.replace(/--[^\n]*/g, ' ');
  for (let prev = ''; prev !== out; ) {
    prev = out;
    out = out.replace(/\/\*(?:(?!\/\*|\*\/)[\s\S])*\*\//g, ' '); // innermost comments first
  }
  return out;
}

/** Whether `statement` is a command with `tag` (CREATE TABLE matches CREATE UNLOGGED TABLE, CREATE INDEX matches CREATE UNIQUE INDEX …). */
export function matchesTag(statement: string, tag: string): boolean {
  const words = withoutComments(statement).trim().toUpperCase().split(/\s+/).slice(0, 6);
  const [verb, ...object] = tag.toUpperCase().split(' ');
  if (words[0] !== verb) return false;
  const rest = words.slice(1).join(' ');
  return object.length === 0 || rest.includes(object.join(' ')) || rest.includes(object.at(-1)!);
}

/**
 * CREATE INDEX CONCURRENTLY and its kin cannot run inside a transaction block, and replay runs
 * each archived transaction in one; nobody else uses the target yet, so the plain form is the same.
 */
export function withoutConcurrently(statement: string): string {
  const head =
    /^\s*(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX|REINDEX\s+\(?[^;]*?\b(INDEX|TABLE|SCHEMA|DATABASE)|ALTER\s+TABLE\b[\s\S]*?\bDETACH\s+PARTITION\b[\s\S]*?)\s+CONCURRENTLY\b/i;
  return statement.replace(head, (m) => m.replace(/\s+CONCURRENTLY\b$/i, ''));
}
