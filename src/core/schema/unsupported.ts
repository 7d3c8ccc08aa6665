// Object kinds Tidemark does not capture. Each one found is reported by name, never dropped
// silently; extension members are skipped (CREATE EXTENSION recreates them).
import { Capture, notExtensionMember } from './context.ts';
import { UnsupportedObjectError, listNames } from '../errors.ts';

const qualified = (schema: string, name: string) =>
  `pg_catalog.quote_ident(${schema}) || '.' || pg_catalog.quote_ident(${name})`;
const nsp = (col: string) => `(SELECT nspname FROM pg_catalog.pg_namespace WHERE oid = ${col})`;
// Internal dependents (a multirange's cast) come and go with their owner.
const userObject = (
  catalog: string,
  alias: string,
) => `${alias}.oid >= 16384 AND ${notExtensionMember(catalog, `${alias}.oid`)}
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass
    AND i.objid = ${alias}.oid AND i.deptype = 'i')`;

/** [kind, SQL returning one `name` column] */
const KINDS: [string, string][] = [];

const MAX_NAMES = 50;

export async function reportUnsupported(capture: Capture): Promise<void> {
  if (KINDS.length === 0) return;
  const sql = KINDS.map(([kind, select], i) => `SELECT ${i} AS kind, name FROM (${select}) AS k${i}(name)`).join(
    '\nUNION ALL\n',
  );
  const rows = await capture.query<{ kind: number; name: string }>(`${sql}\nORDER BY 1, 2`);
  const byKind = new Map<number, string[]>();
  for (const row of rows) byKind.set(row.kind, [...(byKind.get(row.kind) ?? []), row.name]);
  for (const [kind, names] of byKind) {
    capture.warnings.push(`unsupported object kind "${KINDS[kind][0]}" not backed up: ${listNames(names, MAX_NAMES)}`);
  }
}

/** Catalogs whose user objects are all of unsupported kinds (see KINDS). */
const UNSUPPORTED_CATALOGS: string[] = [];

const POST_DATA_CATALOGS = new Set(['pg_constraint', 'pg_trigger', 'pg_rewrite', 'pg_policy', 'pg_statistic_ext']);

/**
 * A captured object that needs an object of an unsupported kind (a function or a column of a
 * user-defined base type, an index with a user operator class, a view over a foreign table) would
 * make the whole restore fail. Such a backup is refused, naming both, rather than committed as if
 * it could be restored. Runs after every capture, when `capture.aliases` knows what was captured.
 */
export async function refuseUnrestorableDependents(capture: Capture): Promise<void> {
  if (UNSUPPORTED_CATALOGS.length === 0) return;
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
      pg_catalog.pg_describe_object(d.refclassid, r.oid, 0) AS needed
    FROM pg_catalog.pg_depend d
    -- A dependency on an array type is one on its element type.
    CROSS JOIN LATERAL (SELECT CASE WHEN d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
        THEN COALESCE((SELECT e.oid FROM pg_catalog.pg_type e WHERE e.typarray = d.refobjid), d.refobjid)
        ELSE d.refobjid END AS oid) r
    WHERE d.deptype = 'n' AND d.objid >= 16384 AND r.oid >= 16384
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
        AND x.classid = d.refclassid AND x.objid = r.oid AND x.deptype = 'e')
      AND d.refclassid IN (${UNSUPPORTED_CATALOGS.map((c) => `'pg_catalog.${c}'::pg_catalog.regclass`).join(', ')})
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
