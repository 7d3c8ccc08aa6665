// The safety net under the capture. Every catalog of a database's own objects that PostgreSQL 13–18
// has is captured (CAPTURED_CATALOGS); a user object in any other catalog — one a later PostgreSQL
// adds — is named in the backup's warnings, never dropped silently, and a captured object that
// needs one makes the backup refuse, since its restore would fail. Extension members are skipped:
// CREATE EXTENSION recreates them.
import { Capture, notExtensionMember } from './context.ts';
import { UnsupportedObjectError, listNames } from '../errors.ts';
import { quoteIdent, quoteLiteral } from '../sql.ts';

/** The per-database catalogs with an `oid` column whose user objects the capture writes. */
export const CAPTURED_CATALOGS: readonly string[] = [
  'pg_am',
  'pg_amop',
  'pg_amproc',
  'pg_attrdef',
  'pg_cast',
  'pg_class',
  'pg_collation',
  'pg_constraint',
  'pg_conversion',
  'pg_default_acl',
  'pg_enum',
  'pg_event_trigger',
  'pg_extension',
  'pg_foreign_data_wrapper',
  'pg_foreign_server',
  'pg_language',
  'pg_largeobject_metadata',
  'pg_namespace',
  'pg_opclass',
  'pg_operator',
  'pg_opfamily',
  'pg_policy',
  'pg_proc',
  'pg_publication',
  'pg_publication_namespace',
  'pg_publication_rel',
  'pg_rewrite',
  'pg_statistic_ext',
  'pg_transform',
  'pg_trigger',
  'pg_ts_config',
  'pg_ts_dict',
  'pg_ts_parser',
  'pg_ts_template',
  'pg_type',
  'pg_user_mapping',
];

const MAX_NAMES = 50;

/**
 * Warns about user objects in catalogs not in `captured`, then refuses the backup if a captured
 * object depends on one. `captured` is a parameter so a test can prove the net holds.
 */
export async function guardUncaptured(capture: Capture, captured = CAPTURED_CATALOGS): Promise<void> {
  const catalogs = (
    await capture.query<{ relname: string }>(
      `SELECT c.relname FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = 'oid' AND NOT a.attisdropped
       WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind = 'r' AND NOT c.relisshared
         AND c.relname <> ALL ($1::pg_catalog.text[])
       ORDER BY 1`,
      [captured],
    )
  ).map((r) => r.relname);
  if (catalogs.length === 0) return;
  const select = catalogs.map(
    (catalog) =>
      `SELECT ${quoteLiteral(catalog)} AS catalog, pg_catalog.pg_describe_object('pg_catalog.${catalog}'::pg_catalog.regclass, o.oid, 0) AS name
         FROM pg_catalog.${quoteIdent(catalog)} o WHERE o.oid >= 16384 AND ${notExtensionMember(catalog, 'o.oid')}`,
  );
  const rows = await capture.query<{ catalog: string; name: string }>(`${select.join('\nUNION ALL\n')}\nORDER BY 1, 2`);
  const byCatalog = new Map<string, string[]>();
  for (const row of rows) byCatalog.set(row.catalog, [...(byCatalog.get(row.catalog) ?? []), row.name]);
  for (const [catalog, names] of byCatalog) {
    capture.warnings.push(
      `objects of a kind Tidemark does not back up yet (catalog ${catalog}) are not in this backup: ${listNames(names, MAX_NAMES)}`,
    );
  }
  if (byCatalog.size > 0) await refuseUnrestorableDependents(capture, [...byCatalog.keys()]);
}

const POST_DATA_CATALOGS = new Set(['pg_constraint', 'pg_trigger', 'pg_rewrite', 'pg_policy', 'pg_statistic_ext']);

/**
 * A captured object that needs an uncaptured one would make the whole restore fail. Such a backup
 * is refused, naming both, rather than committed as if it could be restored. Runs after every
 * capture, when `capture.aliases` knows what was captured.
 */
async function refuseUnrestorableDependents(capture: Capture, uncaptured: string[]): Promise<void> {
  const rows = await capture.query<{
    catalog: string;
    objid: number;
    relkind: string | null;
    dependent: string;
    needed: string;
  }>(`
    SELECT d.classid::pg_catalog.regclass::pg_catalog.text AS catalog, d.objid,
      (SELECT c.relkind FROM pg_catalog.pg_class c WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = d.objid) AS relkind,
      pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent,
      pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) AS needed
    FROM pg_catalog.pg_depend d
    WHERE d.deptype = 'n' AND d.objid >= 16384 AND d.refobjid >= 16384
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
        AND x.classid = d.refclassid AND x.objid = d.refobjid AND x.deptype = 'e')
      AND d.refclassid IN (${uncaptured.map((c) => `'pg_catalog.${c}'::pg_catalog.regclass`).join(', ')})
    ORDER BY 3, 4`);
  // Pre-data objects are known by their catalog key; post-data ones (indexes, constraints,
  // triggers, rules, policies, statistics) are not nodes, but are captured with their table.
  const captured = (r: (typeof rows)[number]) =>
    capture.aliases.has(`${r.catalog}:${r.objid}`) ||
    POST_DATA_CATALOGS.has(r.catalog) ||
    (r.catalog === 'pg_class' && (r.relkind === 'i' || r.relkind === 'I'));
  const problems = rows.filter(captured).map((r) => `${r.dependent} needs ${r.needed}`);
  if (problems.length === 0) return;
  throw new UnsupportedObjectError(
    `This database cannot be backed up faithfully yet: ${listNames([...new Set(problems)], 20)}, of a kind Tidemark does not back up ` +
      '(see the backup warnings), so a restore of it would fail: the backup is not taken. Until that kind is supported, ' +
      'back this database up with pg_dump, or drop or change the objects named.',
  );
}
