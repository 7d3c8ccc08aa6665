// The catalog text a SQL_ASCII database's capture reads, where any bytes may sit: every name,
// option, comment, label and definition (encoding-check.ts converts each to UTF-8 before the
// capture does). One entry per catalog. A catalog's row as text holds all its names, options and
// text columns at once, whatever the server version; expressions kept as node trees print their
// constants' bytes as numbers, so those are deparsed as the capture deparses them.

/** `from` is a catalog aliased x; `id` the (classid, objid, objsubid) pg_describe_object names a row by. */
export interface CatalogText {
  from: string;
  text: string;
  id: string;
}

const ROW = 'x::pg_catalog.text';
const expr = (node: string, relation: string) => `COALESCE(pg_catalog.pg_get_expr(${node}, ${relation}), '')`;
const own = (catalog: string, oid = 'x.oid') => `'pg_catalog.${catalog}'::pg_catalog.regclass, ${oid}, 0`;
/** A catalog whose row text is all there is to read. */
const rows = (catalog: string, oid = 'x.oid', describedAs = catalog): CatalogText => ({
  from: `pg_catalog.${catalog} x`,
  text: ROW,
  id: own(describedAs, oid),
});

/** `version` is server_version_num; `conninfo` whether pg_subscription.subconninfo may be read. */
export function catalogText(version: number, conninfo: boolean): CatalogText[] {
  return [
    { from: 'pg_catalog.pg_description x', text: 'x.description', id: 'x.classoid, x.objoid, x.objsubid' },
    { from: 'pg_catalog.pg_shdescription x', text: 'x.description', id: 'x.classoid, x.objoid, 0' },
    {
      from: 'pg_catalog.pg_seclabel x',
      text: 'x.provider || x.label',
      id: 'x.classoid, x.objoid, x.objsubid',
    },
    rows('pg_namespace'),
    {
      from: 'pg_catalog.pg_class x',
      text:
        `${ROW} || CASE WHEN x.relkind IN ('v', 'm') AND x.oid >= 16384 THEN pg_catalog.pg_get_viewdef(x.oid) ELSE '' END` +
        ` || ${expr('x.relpartbound', 'x.oid')} || CASE WHEN x.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(x.oid) ELSE '' END`,
      id: own('pg_class'),
    },
    {
      // Not the whole row: attmissingval is a column's rows' value (data, checked as data).
      from: 'pg_catalog.pg_attribute x',
      text: "x.attname::pg_catalog.text || COALESCE(x.attoptions::pg_catalog.text, '') || COALESCE(x.attfdwoptions::pg_catalog.text, '')",
      id: "'pg_catalog.pg_class'::pg_catalog.regclass, x.attrelid, x.attnum",
    },
    {
      from: 'pg_catalog.pg_attrdef x',
      text: 'pg_catalog.pg_get_expr(x.adbin, x.adrelid)',
      id: "'pg_catalog.pg_class'::pg_catalog.regclass, x.adrelid, x.adnum",
    },
    rows('pg_type'),
    { from: 'pg_catalog.pg_enum x', text: ROW, id: own('pg_type', 'x.enumtypid') },
    {
      // A SQL-standard body (BEGIN ATOMIC, 14+) and argument defaults are node trees.
      from: 'pg_catalog.pg_proc x',
      text:
        `${ROW} || pg_catalog.pg_get_function_arguments(x.oid)` +
        (version >= 140000
          ? ` || CASE WHEN x.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_functiondef(x.oid) ELSE '' END`
          : ''),
      id: own('pg_proc'),
    },
    rows('pg_aggregate', 'x.aggfnoid', 'pg_proc'),
    {
      from: 'pg_catalog.pg_constraint x',
      text: `${ROW} || pg_catalog.pg_get_constraintdef(x.oid)`,
      id: own('pg_constraint'),
    },
    {
      from: 'pg_catalog.pg_index x',
      text: 'pg_catalog.pg_get_indexdef(x.indexrelid)',
      id: own('pg_class', 'x.indexrelid'),
    },
    { from: 'pg_catalog.pg_trigger x', text: `${ROW} || pg_catalog.pg_get_triggerdef(x.oid)`, id: own('pg_trigger') },
    {
      from: 'pg_catalog.pg_policy x',
      text: `${ROW} || ${expr('x.polqual', 'x.polrelid')} || ${expr('x.polwithcheck', 'x.polrelid')}`,
      id: own('pg_policy'),
    },
    {
      from: 'pg_catalog.pg_rewrite x',
      text: "x.rulename::pg_catalog.text || CASE WHEN x.rulename <> '_RETURN' THEN pg_catalog.pg_get_ruledef(x.oid) ELSE '' END",
      id: own('pg_rewrite'),
    },
    {
      from: 'pg_catalog.pg_statistic_ext x',
      text: `${ROW} || pg_catalog.pg_get_statisticsobjdef(x.oid)`,
      id: own('pg_statistic_ext'),
    },
    rows('pg_operator'),
    rows('pg_opclass'),
    rows('pg_opfamily'),
    rows('pg_am'),
    rows('pg_collation'),
    rows('pg_conversion'),
    rows('pg_language'),
    rows('pg_extension'),
    rows('pg_foreign_data_wrapper'),
    rows('pg_foreign_server'),
    // The view shows a mapping's options only to whom may see them, as the capture reads them.
    rows('pg_user_mappings', 'x.umid', 'pg_user_mapping'),
    rows('pg_foreign_table', 'x.ftrelid', 'pg_class'),
    rows('pg_ts_config'),
    rows('pg_ts_dict'),
    rows('pg_ts_parser'),
    rows('pg_ts_template'),
    rows('pg_event_trigger'),
    rows('pg_publication'),
    ...(version >= 150000
      ? [
          {
            from: 'pg_catalog.pg_publication_rel x',
            text: expr('x.prqual', 'x.prrelid'),
            id: own('pg_publication_rel'),
          },
        ]
      : []),
    {
      // Naming subconninfo at all needs its column privilege (subscriptions.ts).
      from: 'pg_catalog.pg_subscription x',
      text:
        "x.subname::pg_catalog.text || COALESCE(x.subslotname::pg_catalog.text, '') || x.subpublications::pg_catalog.text" +
        ` || x.subsynccommit${conninfo ? ' || x.subconninfo' : ''}`,
      id: own('pg_subscription'),
    },
    {
      from: 'pg_catalog.pg_roles x',
      text: 'x.rolname::pg_catalog.text',
      id: own('pg_authid'),
    },
    {
      // Shared catalogs: only the rows this database uses.
      from: `(SELECT * FROM pg_catalog.pg_tablespace WHERE oid IN (SELECT reltablespace FROM pg_catalog.pg_class)) x`,
      text: ROW,
      id: own('pg_tablespace'),
    },
    {
      from: '(SELECT * FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) x',
      text: 'x.datname::pg_catalog.text',
      id: own('pg_database'),
    },
  ];
}
