// Tables, materialized views and indexes in a tablespace other than the database's default. A
// tablespace is a directory of the source's server, not part of the backup: the restore moves
// each such object into the tablespace of the same name when the target has one the restoring
// role may create in, and leaves it in the default tablespace otherwise (as pg_dump's
// `SET default_tablespace` does when it fails). Tables and materialized views move right after
// their creation, while still empty; indexes once built, in the post-data wave after them.
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';
import type { DdlStatement } from './model.ts';
import { quoteLiteral } from '../sql.ts';

interface PlacedRow {
  oid: number;
  relkind: 'r' | 'p' | 'm' | 'i' | 'I';
  ident: string;
  /** The tablespace's name, and quoted. */
  space: string;
  space_ident: string;
}

const KEYWORD = { r: 'TABLE', p: 'TABLE', m: 'MATERIALIZED VIEW', i: 'INDEX', I: 'INDEX' } as const;
const OBJECT = { r: 'table', p: 'table', m: 'materialized view', i: 'index', I: 'index' } as const;

export async function captureTablespaces(capture: Capture): Promise<void> {
  const rows = await capture.query<PlacedRow>(`
    SELECT c.oid, c.relkind, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS ident,
      t.spcname AS space, pg_catalog.quote_ident(t.spcname) AS space_ident
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
  const alter = `ALTER ${keyword} ${row.ident} SET TABLESPACE ${row.space_ident}`;
  const left = `${object} stays in the default tablespace: the target has no tablespace ${row.space_ident} the restoring role may create in`;
  const body =
    `BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_tablespace t WHERE t.spcname = ${quoteLiteral(row.space)} ` +
    `AND pg_catalog.has_tablespace_privilege(t.oid, 'CREATE')) THEN EXECUTE ${quoteLiteral(alter)}; ` +
    `ELSE RAISE WARNING USING MESSAGE = ${quoteLiteral(left)}, ERRCODE = '${LEFT_IN_DEFAULT_TABLESPACE}'; END IF; END`;
  return { object, kind: 'tablespace', sql: `DO ${quoteLiteral(body)}` };
}
