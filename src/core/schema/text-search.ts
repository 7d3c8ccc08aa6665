// Text search parsers, templates, dictionaries and configurations, as pg_dump writes them: a
// parser or template from its functions (no owner: they have none), a dictionary from its
// template and init options, a configuration from its parser, then one ADD MAPPING per token type.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import type { DdlStatement } from './model.ts';

interface DictionaryRow {
  oid: number;
  ident: string;
  template: string;
  options: string | null;
  owner: string;
}

interface ConfigurationRow {
  oid: number;
  ident: string;
  parser: string;
  owner: string;
  /** [token alias, dictionaries in order (qualified)] */
  mappings: [string, string[]][] | null;
}

const qualified = (schema: string, name: string) =>
  `pg_catalog.quote_ident(${schema}) || '.' || pg_catalog.quote_ident(${name})`;

interface FunctionsRow {
  oid: number;
  ident: string;
  /** `START = f`, … in CREATE TEXT SEARCH PARSER / TEMPLATE order, rendered by the query. */
  functions: string[];
}

const proc = (label: string, column: string) =>
  `CASE WHEN ${column} <> 0 THEN '${label} = ' || ${column}::pg_catalog.regproc::pg_catalog.text END`;

export async function captureTextSearch(capture: Capture): Promise<void> {
  // regproc qualifies the functions: captureSchema emptied search_path.
  await captureFunctionObjects(
    capture,
    'pg_ts_parser',
    'text search parser',
    `SELECT p.oid, ${qualified('n.nspname', 'p.prsname')} AS ident,
      pg_catalog.array_remove(ARRAY[${proc('START', 'p.prsstart')}, ${proc('GETTOKEN', 'p.prstoken')}, ${proc('END', 'p.prsend')},
        ${proc('HEADLINE', 'p.prsheadline')}, ${proc('LEXTYPES', 'p.prslextype')}], NULL) AS functions
    FROM pg_catalog.pg_ts_parser p JOIN pg_catalog.pg_namespace n ON n.oid = p.prsnamespace
    WHERE p.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_ts_parser', 'p.oid')}
    ORDER BY 2`,
  );
  await captureFunctionObjects(
    capture,
    'pg_ts_template',
    'text search template',
    `SELECT t.oid, ${qualified('n.nspname', 't.tmplname')} AS ident,
      pg_catalog.array_remove(ARRAY[${proc('INIT', 't.tmplinit')}, ${proc('LEXIZE', 't.tmpllexize')}], NULL) AS functions
    FROM pg_catalog.pg_ts_template t JOIN pg_catalog.pg_namespace n ON n.oid = t.tmplnamespace
    WHERE t.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_ts_template', 't.oid')}
    ORDER BY 2`,
  );
  const dictionaries = await capture.query<DictionaryRow>(`
    SELECT d.oid, ${qualified('n.nspname', 'd.dictname')} AS ident,
      (SELECT ${qualified('tn.nspname', 't.tmplname')} FROM pg_catalog.pg_ts_template t
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.tmplnamespace WHERE t.oid = d.dicttemplate) AS template,
      d.dictinitoption AS options, pg_catalog.pg_get_userbyid(d.dictowner) AS owner
    FROM pg_catalog.pg_ts_dict d JOIN pg_catalog.pg_namespace n ON n.oid = d.dictnamespace
    WHERE d.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_ts_dict', 'd.oid')}
    ORDER BY 2`);
  for (const row of dictionaries) {
    const object = `text search dictionary ${row.ident}`;
    add(capture, key('pg_ts_dict', row.oid), 'text search dictionary', row.ident, object, [
      {
        object,
        kind: 'text search dictionary',
        sql: `CREATE TEXT SEARCH DICTIONARY ${row.ident} (TEMPLATE = ${row.template}${row.options ? `, ${row.options}` : ''})`,
      },
      ownerStatement(`TEXT SEARCH DICTIONARY ${row.ident}`, object, row.owner),
    ]);
  }
  const configurations = await capture.query<ConfigurationRow>(`
    SELECT c.oid, ${qualified('n.nspname', 'c.cfgname')} AS ident,
      (SELECT ${qualified('pn.nspname', 'p.prsname')} FROM pg_catalog.pg_ts_parser p
        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.prsnamespace WHERE p.oid = c.cfgparser) AS parser,
      pg_catalog.pg_get_userbyid(c.cfgowner) AS owner,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(m.alias, m.dicts) ORDER BY m.tokentype)
        FROM (SELECT cm.maptokentype AS tokentype,
                (SELECT t.alias FROM pg_catalog.ts_token_type(c.cfgparser) t WHERE t.tokid = cm.maptokentype) AS alias,
                pg_catalog.array_agg((SELECT ${qualified('dn.nspname', 'dd.dictname')} FROM pg_catalog.pg_ts_dict dd
                  JOIN pg_catalog.pg_namespace dn ON dn.oid = dd.dictnamespace WHERE dd.oid = cm.mapdict) ORDER BY cm.mapseqno) AS dicts
              FROM pg_catalog.pg_ts_config_map cm WHERE cm.mapcfg = c.oid GROUP BY cm.maptokentype) m) AS mappings
    FROM pg_catalog.pg_ts_config c JOIN pg_catalog.pg_namespace n ON n.oid = c.cfgnamespace
    WHERE c.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_ts_config', 'c.oid')}
    ORDER BY 2`);
  for (const row of configurations) {
    const object = `text search configuration ${row.ident}`;
    add(capture, key('pg_ts_config', row.oid), 'text search configuration', row.ident, object, [
      {
        object,
        kind: 'text search configuration',
        sql: `CREATE TEXT SEARCH CONFIGURATION ${row.ident} (PARSER = ${row.parser})`,
      },
      ...(row.mappings ?? []).map(([token, dicts]) => ({
        object,
        kind: 'text search configuration',
        sql: `ALTER TEXT SEARCH CONFIGURATION ${row.ident} ADD MAPPING FOR ${token} WITH ${dicts.join(', ')}`,
      })),
      ownerStatement(`TEXT SEARCH CONFIGURATION ${row.ident}`, object, row.owner),
    ]);
  }
}

function add(
  capture: Capture,
  nodeKey: string,
  kind: string,
  identity: string,
  object: string,
  statements: DdlStatement[],
): void {
  capture.add({ key: nodeKey, kind, identity, statements });
  capture.comments.set(nodeKey, { target: `${kind.toUpperCase()} ${identity}`, object, node: nodeKey });
}

/** Parsers and templates: one CREATE naming their support functions (`FUNCTION = regproc`, …). */
async function captureFunctionObjects(
  capture: Capture,
  catalog: 'pg_ts_parser' | 'pg_ts_template',
  kind: 'text search parser' | 'text search template',
  sql: string,
): Promise<void> {
  for (const row of await capture.query<FunctionsRow>(sql)) {
    const object = `${kind} ${row.ident}`;
    add(capture, key(catalog, row.oid), kind, row.ident, object, [
      { object, kind, sql: `CREATE ${kind.toUpperCase()} ${row.ident} (${row.functions.join(', ')})` },
    ]);
  }
}
