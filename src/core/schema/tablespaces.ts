// Tables, materialized views and indexes in a tablespace other than the database's default. A
// tablespace is a directory of the source's server, not part of the backup: the restore moves
// each such object into the tablespace of the same name when the target has one the restoring
// role may create in, and leaves it in the default tablespace otherwise (as pg_dump's
// `SET default_tablespace` does when it fails). Tables and materialized views move right after
// their creation, while still empty; indexes once built, in the post-data wave after them.
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';
import type { DdlStatement } from './model.ts';
import { IntegrityError } from '../errors.ts';
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';

interface PlacedRow {
  oid: number;
  relkind: 'r' | 'p' | 'm' | 'i' | 'I';
  ident: string;
  /** The tablespace's name. */
  space: string;
}

const KEYWORD = { r: 'TABLE', p: 'TABLE', m: 'MATERIALIZED VIEW', i: 'INDEX', I: 'INDEX' } as const;
const OBJECT = { r: 'table', p: 'table', m: 'materialized view', i: 'index', I: 'index' } as const;

export async function captureTablespaces(capture: Capture): Promise<void> {
  const rows = await capture.query<PlacedRow>(`
    SELECT c.oid, c.relkind, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS ident,
      t.spcname AS space
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
    WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND ${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}
    ORDER BY 3`);
  for (const row of rows) {
    const nodeKey = key('pg_class', row.oid);
    const isIndex = row.relkind === 'i' || row.relkind === 'I';
    // Only what is captured: indexes.ts leaves out invalid indexes, which have no comment target.
    if (isIndex ? !capture.comments.has(nodeKey) : !capture.objects.has(nodeKey)) continue;
    const statement = moveStatement(`${OBJECT[row.relkind]} ${row.ident}`, KEYWORD[row.relkind], row);
    if (isIndex) capture.addPost(Wave.attach, statement);
    else capture.append(nodeKey, statement);
  }
}

/**
 * The SQLSTATE of the server warning a move raises when it leaves its object in the default
 * tablespace (class 01, warning), its message naming the object and the tablespace.
 */
export const LEFT_IN_DEFAULT_TABLESPACE = '01TM1';

/** ALTER … SET TABLESPACE when the target has the tablespace and the restoring role may use it. */
function moveStatement(object: string, keyword: string, row: PlacedRow): DdlStatement {
  return { object, kind: 'tablespace', sql: moveSql({ object, keyword, ident: row.ident, space: row.space }) };
}

/** What a tablespace statement moves, read back from its SQL (see `readMove`). */
interface Move {
  object: string;
  keyword: string;
  /** The relation, qualified and quoted. */
  ident: string;
  /** The source's tablespace (its name, unquoted). */
  space: string;
}

/**
 * The DO block that moves `move.ident` into `into` (default: its source tablespace). The
 * database's own default tablespace needs no CREATE privilege (PostgreSQL skips the check), so
 * mapping to it never warns. A mapped move's warning names both tablespaces.
 */
function moveSql(move: Move, into = move.space): string {
  const alter = `ALTER ${move.keyword} ${move.ident} SET TABLESPACE ${quoteIdentLikeServer(into)}`;
  const which =
    into === move.space
      ? quoteIdentLikeServer(into)
      : `${quoteIdentLikeServer(into)} (its tablespace ${quoteIdentLikeServer(move.space)} mapped by --tablespace-map)`;
  const left = `${move.object} stays in the default tablespace: the target has no tablespace ${which} the restoring role may create in`;
  const usable =
    into === move.space
      ? `pg_catalog.has_tablespace_privilege(t.oid, 'CREATE')`
      : `(pg_catalog.has_tablespace_privilege(t.oid, 'CREATE') OR t.oid = (SELECT d.dattablespace FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()))`;
  const body =
    `BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_tablespace t WHERE t.spcname = ${quoteLiteral(into)} ` +
    `AND ${usable}) THEN EXECUTE ${quoteLiteral(alter)}; ` +
    `ELSE RAISE WARNING USING MESSAGE = ${quoteLiteral(left)}, ERRCODE = '${LEFT_IN_DEFAULT_TABLESPACE}'; END IF; END`;
  return `DO ${quoteLiteral(body)}`;
}

// The manifest keeps the statement as captured (a map is the restore's choice, and DdlStatement
// has no field for it): the move is read back from the SQL moveSql wrote, which holds every
// part of it — the source tablespace's name in the EXISTS test, the relation in the ALTER.
const LITERAL = String.raw`(E?'(?:[^']|'')*')`;
const BODY = new RegExp(
  String.raw`^BEGIN IF EXISTS \(SELECT 1 FROM pg_catalog\.pg_tablespace t WHERE t\.spcname = ${LITERAL} AND .*? THEN EXECUTE ${LITERAL}; ELSE `,
);
const ALTER = /^ALTER (TABLE|MATERIALIZED VIEW|INDEX) ([\s\S]+) SET TABLESPACE (?:"(?:[^"]|"")*"|[^\s"]+)$/;

/** The value of a literal quoteLiteral wrote. */
function unquoteLiteral(literal: string): string {
  const escaped = literal.startsWith('E');
  const body = literal.slice(escaped ? 2 : 1, -1).replaceAll("''", "'");
  return escaped ? body.replaceAll('\\\\', '\\') : body;
}

/** The move a `kind: 'tablespace'` statement makes; throws on one this module did not write. */
export function readMove(statement: DdlStatement): Move {
  const sql = statement.sql.startsWith('DO ') ? statement.sql.slice(3) : '';
  const body = new RegExp(`^${LITERAL}$`).test(sql) ? unquoteLiteral(sql) : '';
  const parts = BODY.exec(body);
  const alter = parts && ALTER.exec(unquoteLiteral(parts[2]!));
  if (!parts || !alter) {
    throw new IntegrityError(
      `The tablespace statement for ${statement.object} in the manifest is not one Tidemark writes, so --tablespace-map cannot move it: ${statement.sql}. Restore without --tablespace-map, or check the backup with \`tidemark verify\`.`,
    );
  }
  return { object: statement.object, keyword: alter[1]!, ident: alter[2]!, space: unquoteLiteral(parts[1]!) };
}

/** The source tablespaces the objects of `statements` are in, sorted. */
export function tablespacesUsed(statements: Iterable<DdlStatement>): string[] {
  const used = new Set<string>();
  for (const s of statements) if (s.kind === 'tablespace') used.add(readMove(s).space);
  return [...used].sort();
}

/** `statements` with each move out of a mapped tablespace going to its `map` entry instead. */
export function withTablespaceMap(
  statements: readonly DdlStatement[],
  map: Readonly<Record<string, string>> = {},
): DdlStatement[] {
  if (Object.keys(map).length === 0) return [...statements];
  return statements.map((s) => {
    if (s.kind !== 'tablespace') return s;
    const move = readMove(s);
    const into = map[move.space];
    return into === undefined ? s : { ...s, sql: moveSql(move, into) };
  });
}
