// Functions and procedures (pg_get_functiondef) and aggregates (rebuilt from pg_aggregate,
// which pg_get_functiondef refuses).
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { aggregateSql, AGGREGATE_COLUMNS, type AggregateRow } from './aggregates.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import { quoteLiteral } from '../sql.ts';

interface FunctionRow extends AggregateRow {
  oid: number;
  prokind: 'f' | 'p' | 'a' | 'w';
  name: string;
  identity_args: string;
  /** Argument types alone: what GRANT takes for an aggregate, which has no (*) or ORDER BY form there. */
  arg_types: string;
  owner: string;
  acl: AclJson | null;
  def: string | null;
  secdef: boolean;
  /** A C function's library and symbol (probin, prosrc); null for other languages. */
  library: string | null;
  symbol: string | null;
}

const KEYWORD = { f: 'FUNCTION', w: 'FUNCTION', p: 'PROCEDURE', a: 'AGGREGATE' } as const;

export async function captureFunctions(capture: Capture): Promise<void> {
  const rows = await capture.query<FunctionRow>(`
    SELECT p.oid, p.prokind, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) AS name,
      pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity_args,
      pg_catalog.oidvectortypes(p.proargtypes) AS arg_types,
      pg_catalog.pg_get_userbyid(p.proowner) AS owner, ${aclSql('p.proacl', 'f', 'p.proowner')} AS acl, p.prosecdef AS secdef,
      CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS def,
      CASE WHEN l.lanname = 'c' THEN p.probin END AS library, CASE WHEN l.lanname = 'c' THEN p.prosrc END AS symbol,
      ${AGGREGATE_COLUMNS}
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    LEFT JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
    WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_proc', 'p.oid')}
      -- Tidemark's own DDL capture (point-in-time recovery) is never restored into a target.
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger t WHERE t.evtfoid = p.oid AND t.evtname LIKE 'tidemark\\_ddl\\_%'
        AND t.evtname = p.proname AND n.nspname = 'public')
      -- Range and multirange constructors belong to their type (internal dependency).
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND i.objid = p.oid AND i.deptype = 'i')`);
  for (const row of rows) {
    const keyword = KEYWORD[row.prokind];
    // An aggregate without arguments is written agg(*).
    const signature = `${row.name}(${row.prokind === 'a' && row.identity_args === '' ? '*' : row.identity_args})`;
    const object = `${keyword.toLowerCase()} ${signature}`;
    const nodeKey = key('pg_proc', row.oid);
    let create = row.prokind === 'a' ? aggregateSql(row.name, row) : (row.def ?? '').trimEnd();
    if (row.library !== null) create = needingLibrary(create, object, row.library, row.symbol ?? '');
    capture.add({
      key: nodeKey,
      kind: row.prokind === 'a' ? 'aggregate' : 'function',
      identity: signature,
      statements: [
        { object, kind: keyword.toLowerCase(), sql: create },
        ownerStatement(
          `${keyword} ${signature}`,
          object,
          row.owner,
          row.secdef
            ? {
                sql: `REVOKE EXECUTE ON ${keyword} ${signature} FROM PUBLIC`,
                why: 'it is SECURITY DEFINER and would run as the restoring user, so EXECUTE was revoked from PUBLIC; grant it to whom it is meant for',
              }
            : undefined,
        ),
        // GRANT has no AGGREGATE form; aggregates are granted as functions, by argument types.
        ...privilegeStatements(
          row.prokind === 'p'
            ? `PROCEDURE ${signature}`
            : row.prokind === 'a'
              ? `FUNCTION ${row.name}(${row.arg_types})`
              : `FUNCTION ${signature}`,
          object,
          row.owner,
          row.acl,
        ),
      ],
    });
    capture.comments.set(nodeKey, { target: `${keyword} ${signature}`, object, node: nodeKey });
  }
}

/**
 * A C function loads its library when created: where the target lacks it, the restore stops
 * there, and says which library and what to do rather than only "could not access file".
 */
function needingLibrary(create: string, object: string, library: string, symbol: string): string {
  const fail = (code: string, what: string, todo: string) =>
    `WHEN ${code} THEN RAISE EXCEPTION USING ERRCODE = '${code}', ` +
    `MESSAGE = ${quoteLiteral(`${object} needs ${what}: ${todo}, then restore again`)} || ' (' || SQLERRM || ')';`;
  const body =
    `BEGIN EXECUTE ${quoteLiteral(create)}; EXCEPTION ` +
    fail(
      'undefined_file',
      `the C library ${library}, which the target server lacks`,
      'install it there (from the package that provides it, for this PostgreSQL version)',
    ) +
    ' ' +
    fail(
      'undefined_function',
      `the function ${symbol} of the C library ${library}, which the target server's copy lacks`,
      'install the version the source had there',
    ) +
    ' END';
  return `DO ${quoteLiteral(body)}`;
}
