// Privileges changed on system catalog tables and their columns (GRANT SELECT (col) ON
// pg_catalog.x TO r): the tables come with every database, so only what differs from their
// initial privileges (pg_init_privs) is replayed, as pg_dump does. The grantor is not kept: the
// initial privileges are the bootstrap superuser's, and a change is a superuser's too.
import { Capture } from './context.ts';
import type { DdlStatement } from './model.ts';

/** [grantee (quoted; null = PUBLIC), privilege, grantable] */
type Item = [string | null, string, boolean];

interface AclRow {
  oid: number;
  table: string;
  /** Quoted column, or null for the table itself. */
  column: string | null;
  now: Item[] | null;
  initial: Item[] | null;
}

const items = (acl: string, subid: string) => `(SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
    CASE WHEN e.grantee = 0 THEN NULL ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(e.grantee)) END,
    e.privilege_type, e.is_grantable)) FROM pg_catalog.aclexplode(${acl}) e WHERE e.grantee <> c.relowner) AS now,
  (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
    CASE WHEN e.grantee = 0 THEN NULL ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(e.grantee)) END,
    e.privilege_type, e.is_grantable))
    FROM pg_catalog.pg_init_privs ip, pg_catalog.aclexplode(ip.initprivs) e
    WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objoid = c.oid AND ip.objsubid = ${subid}
      AND e.grantee <> c.relowner) AS initial`;

const INIT = (subid: string) => `(SELECT ip.initprivs FROM pg_catalog.pg_init_privs ip
  WHERE ip.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ip.objoid = c.oid AND ip.objsubid = ${subid})`;

export async function captureCatalogGrants(capture: Capture): Promise<void> {
  const rows = await capture.query<AclRow>(`
    SELECT c.oid, 'pg_catalog.' || pg_catalog.quote_ident(c.relname) AS table, NULL AS column, ${items('c.relacl', '0')}
    FROM pg_catalog.pg_class c
    WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind IN ('r', 'v')
      AND c.relacl IS NOT NULL AND c.relacl::pg_catalog.text IS DISTINCT FROM ${INIT('0')}::pg_catalog.text
    UNION ALL
    SELECT c.oid, 'pg_catalog.' || pg_catalog.quote_ident(c.relname), pg_catalog.quote_ident(a.attname), ${items('a.attacl', 'a.attnum')}
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = 'pg_catalog'::pg_catalog.regnamespace AND c.relkind IN ('r', 'v')
      AND a.attacl::pg_catalog.text IS DISTINCT FROM ${INIT('a.attnum')}::pg_catalog.text
    ORDER BY 2, 3`);
  for (const row of rows) {
    const object = `table ${row.table}`;
    const on = `${row.column ? `(${row.column}) ` : ''}ON TABLE ${row.table}`;
    const now = row.now ?? [];
    const initial = row.initial ?? [];
    const same = (a: Item, b: Item) => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
    const statements: DdlStatement[] = [];
    for (const item of initial.filter((i) => !now.some((n) => same(n, i)))) {
      statements.push({
        object,
        kind: 'acl',
        sql: `REVOKE ${item[1]} ${on} FROM ${item[0] ?? 'PUBLIC'}`,
        ...(item[0] ? { roles: [unquote(item[0])] } : {}),
      });
    }
    for (const item of now.filter((n) => !initial.some((i) => same(n, i)))) {
      const sql = `GRANT ${item[1]} ${on} TO ${item[0] ?? 'PUBLIC'}${item[2] ? ' WITH GRANT OPTION' : ''}`;
      statements.push({ object, kind: 'acl', sql, ...(item[0] ? { roles: [unquote(item[0])] } : {}) });
    }
    if (statements.length === 0) continue;
    const nodeKey = `catalog acl:${row.oid}:${row.column ?? ''}`;
    capture.add({ key: nodeKey, kind: 'acl', identity: `${row.table} ${row.column ?? ''}`, statements });
  }
}

const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident);
