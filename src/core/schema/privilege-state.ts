// The privileges and owners a restore must reproduce (DESIGN invariant 11), read the same way from
// the source at backup time and from the target before a restore is called verified
// (restore/verify-catalog.ts compares them). A few queries, each over whole catalogs, never one per
// object.
//
// What is compared, and why:
// - How the effective ACL differs from the default a new object gets (acldefault(); none for a
//   column or a per-schema default privilege; pg_init_privs for an extension member or a system
//   catalog table): `+item` granted, `-item` revoked. NULL is read as the default, so a never
//   changed ACL and one granted back to the default are the same; that difference is what the
//   backup restores (acl.ts), and it stays the same across major versions where the whole ACL
//   does not (PostgreSQL 17 gave owners MAINTAIN).
// - Each aclitem as `grantee=PRIVILEGE`, `*` for WITH GRANT OPTION; PUBLIC is `PUBLIC`, the
//   object's owner `(owner)` (the owner's own rights follow the owner, compared apart).
// - Not the grantor. PostgreSQL records a superuser's grant as the owner's, a restore that is not
//   run by a superuser replays a grant with SET ROLE, and a grantor may differ across restores
//   while everyone keeps exactly the same access; the grantor only decides what a later REVOKE …
//   CASCADE takes with it. The same (grantee, privilege) from two grantors is one item.
// - Owners of the objects the backup gives an owner to (ownerStatement), `public`'s only where it
//   is not the version's default; identity sequences, columns, default privileges and
//   pg_init_privs rows have none of their own.
// - `public` exists before the restore with its version's default ACL (15 took CREATE from
//   PUBLIC): its whole ACL is kept with that default, and the source's changes are applied to the
//   target's default before comparing (verify-privileges.ts).
import { notExtensionMember, USER_SCHEMA } from './context.ts';
import type { CatalogQuery } from './model.ts';

export interface ObjectPrivileges {
  /** The object as the captured statements name it (`table public.t`): restore warnings name it so. */
  object: string;
  /** A column's privileges: the quoted column name. */
  column?: string;
  owner?: string;
  /**
   * Changes from the default (`+grantee=PRIVILEGE[*]`, `-…`); absent when there are none. For a
   * column, whose default is none, and `public`, its whole ACL: `grantee=PRIVILEGE[*]` items.
   */
  acl?: string[];
  /** `public` only: its version's default ACL, the baseline the backup's changes apply to. */
  defaultAcl?: string[];
}

/** Large objects of one owner and ACL: their oids as ranges (`16400-16999,17005`). */
export interface LargeObjectGroup {
  owner: string;
  acl?: string[];
  oids: string;
}

export interface EventTriggerState {
  name: string;
  event: string;
  function: string;
  /** pg_event_trigger.evtenabled: O, D, R, A. */
  enabled: string;
  tags: string[] | null;
  owner: string;
}

export interface PrivilegeState {
  /** Objects the backup creates: owner and ACL. Objects the target has beyond them are not looked at. */
  objects: ObjectPrivileges[];
  /** Column privileges (never a default): compared both ways. */
  columns: ObjectPrivileges[];
  /** pg_default_acl entries, ACL relative to the built-in default: compared both ways. */
  defaultPrivileges: ObjectPrivileges[];
  /** Extension members and system catalog tables whose ACL differs from pg_init_privs: compared both ways. */
  initialPrivileges: ObjectPrivileges[];
  largeObjects: LargeObjectGroup[];
}

const PUBLIC_OID = 2200;

const grantee = (owner: string) => `CASE WHEN e.grantee = 0 THEN 'PUBLIC' WHEN e.grantee = ${owner} THEN '(owner)'
  ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(e.grantee)) END`;

/** SQL text[]: the sorted items of `acl` (NULL when it has none). */
const items = (acl: string, owner: string) => `(SELECT pg_catalog.array_agg(i.item ORDER BY i.item COLLATE "C") FROM (
    SELECT ${grantee(owner)} || '=' || e.privilege_type || CASE WHEN pg_catalog.bool_or(e.is_grantable) THEN '*' ELSE '' END AS item
    FROM pg_catalog.aclexplode(${acl}) e GROUP BY e.grantee, e.privilege_type) i)`;

/**
 * SQL text[]: how the items `a` differ from the items `d`, `+item` and `-item`, sorted by item;
 * NULL when they do not. Changes from a default, not the whole ACL, are what the backup restores
 * (acl.ts) and what stays the same across major versions: PostgreSQL 17 gave owners MAINTAIN.
 */
const changes = (
  a: string,
  d: string,
) => `(SELECT pg_catalog.array_agg(s.i ORDER BY pg_catalog.substr(s.i, 2) COLLATE "C", s.i COLLATE "C") FROM (
    SELECT '+' || u AS i FROM pg_catalog.unnest(${a}) u WHERE NOT (u = ANY (COALESCE(${d}, '{}')))
    UNION ALL SELECT '-' || u FROM pg_catalog.unnest(${d}) u WHERE NOT (u = ANY (COALESCE(${a}, '{}')))) s)`;

/** SQL text[]: the changes of the items of `acl` from those of `base` (over the same owner). */
const changed = (acl: string, base: string, owner: string) =>
  `(SELECT ${changes('x.a', 'x.d')} FROM (SELECT ${items(acl, owner)} AS a, ${items(base, owner)} AS d) x)`;

/** SQL text[]: the changes of `acl` from `defaultAcl`; NULL when there are none or `acl` is NULL. */
function normalised(acl: string, defaultAcl: string, owner: string): string {
  return `CASE WHEN ${acl} IS NOT NULL THEN ${changed(acl, defaultAcl, owner)} END`;
}

const qualified = (nsp: string, name: string) =>
  `pg_catalog.quote_ident(${nsp}) || '.' || pg_catalog.quote_ident(${name})`;
const nonEmpty = (acl: string) => `(CASE WHEN pg_catalog.cardinality(${acl}) > 0 THEN ${acl} END)`;

interface Row {
  object: string;
  column?: string | null;
  owner?: string | null;
  acl: string[] | null;
  default_acl?: string[] | null;
}

const clean = (r: Row): ObjectPrivileges => ({
  object: r.object,
  ...(r.column ? { column: r.column } : {}),
  ...(r.owner ? { owner: r.owner } : {}),
  ...(r.acl ? { acl: r.acl } : {}),
  ...(r.default_acl ? { defaultAcl: r.default_acl } : {}),
});

/** `exclude`: a schema of the reading side's own (the restore's progress schema). */
export async function readPrivilegeState(query: CatalogQuery, exclude: string): Promise<PrivilegeState> {
  const excluded = `n.nspname <> '${exclude.replaceAll("'", "''")}'`;
  const relationKind = `CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'S' THEN 'sequence ' ELSE 'table ' END`;
  const relationFilter = `c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${USER_SCHEMA} AND ${excluded}
    AND ${notExtensionMember('pg_class', 'c.oid')}`;
  const relations = `
    SELECT ${relationKind} || ${qualified('n.nspname', 'c.relname')} AS object,
      -- An identity column's sequence has its table's owner, always (the table's is compared).
      CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
          AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'i')
        THEN pg_catalog.pg_get_userbyid(c.relowner) END AS owner, c.relowner AS owner_oid, c.relacl AS acl,
      pg_catalog.acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::pg_catalog."char", c.relowner) AS base, false AS whole
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE ${relationFilter}`;
  const columns = `
    SELECT ${relationKind} || ${qualified('n.nspname', 'c.relname')} AS object, pg_catalog.quote_ident(a.attname) AS column,
      ${items(nonEmpty('a.attacl'), 'c.relowner')} AS acl
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND pg_catalog.cardinality(a.attacl) > 0 AND ${relationFilter}`;
  // PostgreSQL 15 made pg_database_owner public's owner and took CREATE from PUBLIC (schemas.ts).
  const modern = `pg_catalog.current_setting('server_version_num')::pg_catalog.int4 >= 150000`;
  const item = (who: string, privilege: string) => `pg_catalog.makeaclitem(${who}, n.nspowner, '${privilege}', false)`;
  const publicDefault = `CASE WHEN ${modern}
    THEN ARRAY[${item('n.nspowner', 'USAGE')}, ${item('n.nspowner', 'CREATE')}, ${item('0', 'USAGE')}]
    ELSE ARRAY[${item('n.nspowner', 'USAGE')}, ${item('n.nspowner', 'CREATE')}, ${item('0', 'USAGE')}, ${item('0', 'CREATE')}] END`;
  // Looked up, not cast: before 15 the role does not exist.
  const publicOwner = `CASE WHEN ${modern}
    THEN (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = 'pg_database_owner') ELSE 10::pg_catalog.oid END`;
  const schemas = `
    SELECT 'schema ' || pg_catalog.quote_ident(n.nspname) AS object,
      CASE WHEN n.oid <> ${PUBLIC_OID} OR n.nspowner <> ${publicOwner} THEN pg_catalog.pg_get_userbyid(n.nspowner) END,
      n.nspowner, CASE WHEN n.oid = ${PUBLIC_OID} THEN COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner)) ELSE n.nspacl END,
      CASE WHEN n.oid = ${PUBLIC_OID} THEN ${publicDefault} ELSE pg_catalog.acldefault('n', n.nspowner) END,
      n.oid = ${PUBLIC_OID}
    FROM pg_catalog.pg_namespace n
    WHERE ${USER_SCHEMA} AND ${excluded} AND ${notExtensionMember('pg_namespace', 'n.oid')}`;
  // As functions.ts captures them: not Tidemark's own DDL trigger function, not a range type's
  // constructors; an aggregate without arguments is agg(*).
  const functions = `
    SELECT CASE p.prokind WHEN 'p' THEN 'procedure ' WHEN 'a' THEN 'aggregate ' ELSE 'function ' END
        || ${qualified('n.nspname', 'p.proname')} || '(' || CASE WHEN p.prokind = 'a' AND pg_catalog.pg_get_function_identity_arguments(p.oid) = ''
          THEN '*' ELSE pg_catalog.pg_get_function_identity_arguments(p.oid) END || ')' AS object,
      pg_catalog.pg_get_userbyid(p.proowner), p.proowner, p.proacl, pg_catalog.acldefault('f', p.proowner), false
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE ${USER_SCHEMA} AND ${excluded} AND ${notExtensionMember('pg_proc', 'p.oid')}
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger t WHERE t.evtfoid = p.oid AND t.evtname LIKE 'tidemark\\_ddl\\_%'
        AND t.evtname = p.proname AND n.nspname = 'public')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND i.objid = p.oid AND i.deptype = 'i')`;
  // As types.ts and base-types.ts capture them: enums, domains, ranges, composite types of their
  // own, base types; not array types, table row types, multiranges or shells.
  const types = `
    SELECT CASE WHEN t.typtype = 'd' THEN 'domain ' ELSE 'type ' END || ${qualified('n.nspname', 't.typname')} AS object,
      pg_catalog.pg_get_userbyid(t.typowner), t.typowner, t.typacl, pg_catalog.acldefault('T', t.typowner), false
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_class rel ON rel.oid = t.typrelid
    WHERE ${USER_SCHEMA} AND ${excluded} AND ${notExtensionMember('pg_type', 't.oid')}
      AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND rel.relkind = 'c')
        -- typcategory first: pg_type has no index on typarray, and every table has an array type.
        OR (t.typtype = 'b' AND t.oid >= 16384 AND t.typcategory <> 'A'
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type a WHERE a.typarray = t.oid)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
            AND i.objid = t.oid AND i.deptype = 'i')))`;
  const others = `
    SELECT 'language ' || pg_catalog.quote_ident(l.lanname), pg_catalog.pg_get_userbyid(l.lanowner), l.lanowner, l.lanacl,
      pg_catalog.acldefault('l', l.lanowner), false
    FROM pg_catalog.pg_language l
    WHERE l.oid >= 16384 AND l.lanplcallfoid <> 0 AND ${notExtensionMember('pg_language', 'l.oid')}
    UNION ALL
    SELECT 'foreign-data wrapper ' || pg_catalog.quote_ident(w.fdwname), pg_catalog.pg_get_userbyid(w.fdwowner), w.fdwowner,
      w.fdwacl, pg_catalog.acldefault('F', w.fdwowner), false
    FROM pg_catalog.pg_foreign_data_wrapper w
    WHERE w.oid >= 16384 AND ${notExtensionMember('pg_foreign_data_wrapper', 'w.oid')}
    UNION ALL
    SELECT 'foreign server ' || pg_catalog.quote_ident(s.srvname), pg_catalog.pg_get_userbyid(s.srvowner), s.srvowner,
      s.srvacl, pg_catalog.acldefault('S', s.srvowner), false
    FROM pg_catalog.pg_foreign_server s
    WHERE s.oid >= 16384 AND ${notExtensionMember('pg_foreign_server', 's.oid')}`;
  // The objects with an owner in one query, normalised once (planning the expressions per branch
  // cost more than running them). `public` keeps its whole ACL, with its version's default.
  const objects = `
    SELECT u.object, u.owner,
      CASE WHEN u.whole THEN COALESCE(${items('COALESCE(u.acl, u.base)', 'u.owner_oid')}, '{}')
        ELSE ${normalised('u.acl', 'u.base', 'u.owner_oid')} END AS acl,
      CASE WHEN u.whole THEN ${items('u.base', 'u.owner_oid')} END AS default_acl
    FROM (${[relations, functions, types, others, schemas].join('\nUNION ALL\n')}) u`;
  // As default-privileges.ts names them; a per-schema entry's default is no privileges at all.
  const defaults = `
    SELECT 'default privileges for role ' || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(d.defaclrole))
        || COALESCE(' in schema ' || pg_catalog.quote_ident(n.nspname), '') || ' on '
        || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
          WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE 'large objects' END AS object,
      ${changed(
        'd.defaclacl',
        `CASE WHEN d.defaclnamespace = 0 THEN pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole) END`,
        'd.defaclrole',
      )} AS acl
    FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
    WHERE d.defaclacl::pg_catalog.text IS DISTINCT FROM (CASE WHEN d.defaclnamespace = 0
      THEN pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole) END)::pg_catalog.text`;
  // The four lists in one round trip.
  const rows = await query<Row & { list: string }>(
    [
      `SELECT 'objects' AS list, l.object, NULL::pg_catalog.text AS column, l.owner::pg_catalog.text AS owner, l.acl,
        l.default_acl FROM (${objects}) l`,
      `SELECT 'columns', l.object, l.column, NULL, l.acl, NULL FROM (${columns}) l`,
      `SELECT 'defaults', l.object, NULL, NULL, l.acl, NULL FROM (${defaults}) l`,
      `SELECT 'initial', l.object, l.column, NULL, l.acl, NULL FROM (${initialPrivileges()}) l`,
    ].join('\nUNION ALL\n'),
  );
  const list = (name: string) => rows.filter((r) => r.list === name).map(clean);
  // Many large objects share a few owners and ACLs: each distinct pair is normalised once, and the
  // oids of one (owner, ACL) come back as ranges of consecutive ones.
  const largeObjects = await query<{ owner: string; acl: string[] | null; oids: string }>(`
    WITH lo AS (SELECT m.oid::pg_catalog.int8 AS oid, m.lomowner, m.lomacl::pg_catalog.text AS acl_text
        FROM pg_catalog.pg_largeobject_metadata m),
      kinds AS (SELECT k.lomowner, k.acl_text, pg_catalog.pg_get_userbyid(k.lomowner) AS owner,
          ${normalised('k.acl_text::pg_catalog.aclitem[]', `pg_catalog.acldefault('L', k.lomowner)`, 'k.lomowner')} AS acl
        FROM (SELECT DISTINCT lomowner, acl_text FROM lo) k),
      islands AS (SELECT kinds.owner, kinds.acl, lo.oid,
          lo.oid - pg_catalog.row_number() OVER (PARTITION BY kinds.owner, kinds.acl ORDER BY lo.oid) AS island
        FROM lo JOIN kinds ON kinds.lomowner = lo.lomowner AND kinds.acl_text IS NOT DISTINCT FROM lo.acl_text),
      ranges AS (SELECT owner, acl, pg_catalog.min(oid) AS lo, pg_catalog.max(oid) AS hi FROM islands GROUP BY owner, acl, island)
    SELECT owner, acl, pg_catalog.string_agg(CASE WHEN lo = hi THEN lo::pg_catalog.text ELSE lo || '-' || hi END, ',' ORDER BY lo) AS oids
    FROM ranges GROUP BY owner, acl ORDER BY 1, 3`);
  const byObject = (a: ObjectPrivileges, b: ObjectPrivileges) =>
    cmp(a.object, b.object) || cmp(a.column ?? '', b.column ?? '');
  return {
    objects: list('objects').sort(byObject),
    columns: list('columns').sort(byObject),
    defaultPrivileges: list('defaults').sort(byObject),
    initialPrivileges: list('initial').sort(byObject),
    largeObjects: largeObjects.map((g) => ({ owner: g.owner, ...(g.acl ? { acl: g.acl } : {}), oids: g.oids })),
  };
}

/**
 * Extension members and system catalog tables (and their columns) whose ACL differs from their
 * pg_init_privs (extension-members.ts, catalog-grants.ts): the effective ACL, named as those
 * modules name the objects.
 */
function initialPrivileges(): string {
  const member = `d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass`;
  const kinds: [string, string, string, string, string][] = [
    ['pg_class', 'c', 'c.relacl', 'c.relowner', `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END`],
    ['pg_proc', 'p', 'p.proacl', 'p.proowner', `'f'`],
    ['pg_type', 't', 't.typacl', 't.typowner', `'T'`],
    ['pg_namespace', 's', 's.nspacl', 's.nspowner', `'n'`],
    ['pg_language', 'l', 'l.lanacl', 'l.lanowner', `'l'`],
    ['pg_foreign_data_wrapper', 'w', 'w.fdwacl', 'w.fdwowner', `'F'`],
    ['pg_foreign_server', 'v', 'v.srvacl', 'v.srvowner', `'S'`],
  ];
  const selects = kinds.map(([catalog, a, acl, owner, letter]) => {
    const now = `COALESCE(${acl}, pg_catalog.acldefault((${letter})::pg_catalog."char", ${owner}))`;
    const then = `COALESCE(ip.initprivs, pg_catalog.acldefault((${letter})::pg_catalog."char", ${owner}))`;
    return `SELECT pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS object, NULL::pg_catalog.text AS column,
        ${owner} AS owner_oid, ${now} AS acl, ${then} AS base
      FROM pg_catalog.pg_depend d JOIN pg_catalog.${catalog} ${a} ON ${a}.oid = d.objid
      LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = d.classid AND ip.objoid = d.objid AND ip.objsubid = 0
      WHERE d.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND ${member}
        AND ${now}::pg_catalog.text IS DISTINCT FROM ${then}::pg_catalog.text`;
  });
  selects.push(`SELECT pg_catalog.pg_describe_object(d.classid, d.objid, 0), pg_catalog.quote_ident(at.attname),
      c.relowner, ${nonEmpty('at.attacl')}, ${nonEmpty('ip.initprivs')}
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
    JOIN pg_catalog.pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = d.classid AND ip.objoid = d.objid AND ip.objsubid = at.attnum
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ${member}
      AND ${nonEmpty('at.attacl')}::pg_catalog.text IS DISTINCT FROM ${nonEmpty('ip.initprivs')}::pg_catalog.text`);
  // System catalog tables, where their ACL differs from pg_init_privs as catalog-grants.ts compares them.
  const initial = (
    subid: string,
  ) => `LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
    AND ip.objoid = c.oid AND ip.objsubid = ${subid}`;
  selects.push(`SELECT 'table pg_catalog.' || pg_catalog.quote_ident(c.relname), NULL, c.relowner,
      c.relacl, COALESCE(ip.initprivs, pg_catalog.acldefault('r', c.relowner))
    FROM pg_catalog.pg_class c ${initial('0')}
    WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind IN ('r', 'v')
      AND c.relacl IS NOT NULL AND c.relacl::pg_catalog.text IS DISTINCT FROM ip.initprivs::pg_catalog.text`);
  selects.push(`SELECT 'table pg_catalog.' || pg_catalog.quote_ident(c.relname), pg_catalog.quote_ident(a.attname),
      c.relowner, ${nonEmpty('a.attacl')}, ${nonEmpty('ip.initprivs')}
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      ${initial('a.attnum')}
    WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind IN ('r', 'v')
      AND (a.attacl IS NOT NULL OR ip.initprivs IS NOT NULL)
      AND a.attacl::pg_catalog.text IS DISTINCT FROM ip.initprivs::pg_catalog.text`);
  // Normalised once, over all of them (see readPrivilegeState).
  return `SELECT u.object, u.column, ${changed('u.acl', 'u.base', 'u.owner_oid')} AS acl
    FROM (${selects.join('\nUNION ALL\n')}) u`;
}

/** Event triggers as event-triggers.ts captures them (not Tidemark's own, not extension members'). */
export async function readEventTriggerState(query: CatalogQuery): Promise<EventTriggerState[]> {
  return query<EventTriggerState>(`
    SELECT pg_catalog.quote_ident(e.evtname) AS name, e.evtevent AS event,
      ${qualified('n.nspname', 'p.proname')} AS function, e.evtenabled::pg_catalog.text AS enabled,
      (SELECT pg_catalog.array_agg(x ORDER BY x COLLATE "C") FROM pg_catalog.unnest(e.evttags) x) AS tags,
      pg_catalog.pg_get_userbyid(e.evtowner) AS owner
    FROM pg_catalog.pg_event_trigger e
    JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    WHERE NOT (e.evtname LIKE 'tidemark\\_ddl\\_%' AND p.proname = e.evtname AND n.nspname = 'public')
      AND ${notExtensionMember('pg_event_trigger', 'e.oid')}
    ORDER BY 1`);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
