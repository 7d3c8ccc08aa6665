// Privileges changed on an extension's members (pg_dump's rule): CREATE EXTENSION recreates a
// member with the privileges its script gave it (pg_init_privs), so what the user changed since is
// replayed after it, as the difference between those and the member's ACL now. Tables (and their
// columns), sequences, functions, types, schemas, languages, foreign-data wrappers and servers:
// the kinds pg_init_privs tracks that an extension's script makes. Those of an extension initdb
// made (plpgsql: REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC) stand alone: it is not captured.
import { aclJsonSql, privilegeStatements, type AclJson } from './acl.ts';
import { type Capture, key } from './context.ts';

interface MemberAclRow {
  extension: number;
  target: string;
  object: string;
  owner: string;
  column: string | null;
  acl: AclJson;
}

/** One member kind: catalog, alias, ACL column, owner column, acldefault letter, target and object SQL. */
const KINDS: [string, string, string, string, string, string][] = [
  [
    'pg_class',
    'c',
    'c.relacl',
    'c.relowner',
    `CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END`,
    `CASE WHEN c.relkind = 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)`,
  ],
  [
    'pg_proc',
    'p',
    'p.proacl',
    'p.proowner',
    `'f'`,
    `CASE p.prokind WHEN 'p' THEN 'PROCEDURE ' WHEN 'a' THEN 'ROUTINE ' ELSE 'FUNCTION ' END || pg_catalog.quote_ident(n.nspname) || '.'
      || pg_catalog.quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'`,
  ],
  ['pg_type', 't', 't.typacl', 't.typowner', `'T'`, `'TYPE ' || pg_catalog.format_type(t.oid, NULL)`],
  ['pg_namespace', 's', 's.nspacl', 's.nspowner', `'n'`, `'SCHEMA ' || pg_catalog.quote_ident(s.nspname)`],
  ['pg_language', 'l', 'l.lanacl', 'l.lanowner', `'l'`, `'LANGUAGE ' || pg_catalog.quote_ident(l.lanname)`],
  [
    'pg_foreign_data_wrapper',
    'w',
    'w.fdwacl',
    'w.fdwowner',
    `'F'`,
    `'FOREIGN DATA WRAPPER ' || pg_catalog.quote_ident(w.fdwname)`,
  ],
  ['pg_foreign_server', 'v', 'v.srvacl', 'v.srvowner', `'S'`, `'FOREIGN SERVER ' || pg_catalog.quote_ident(v.srvname)`],
];

const NAMESPACE: Record<string, string> = { c: 'c.relnamespace', p: 'p.pronamespace', t: 't.typnamespace' };

export async function captureExtensionMemberPrivileges(capture: Capture): Promise<void> {
  const selects = KINDS.map(([catalog, a, acl, owner, letter, target]) => {
    const now = `COALESCE(${acl}, pg_catalog.acldefault((${letter})::pg_catalog."char", ${owner}))`;
    const then = `COALESCE(ip.initprivs, pg_catalog.acldefault((${letter})::pg_catalog."char", ${owner}))`;
    return `SELECT d.refobjid AS extension, ${target} AS target, pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS object,
        pg_catalog.pg_get_userbyid(${owner}) AS owner, NULL::pg_catalog.text AS column, ${aclJsonSql(now, then)} AS acl
      FROM pg_catalog.pg_depend d JOIN pg_catalog.${catalog} ${a} ON ${a}.oid = d.objid
      ${NAMESPACE[a] ? `JOIN pg_catalog.pg_namespace n ON n.oid = ${NAMESPACE[a]}` : ''}
      LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = d.classid AND ip.objoid = d.objid AND ip.objsubid = 0
      WHERE d.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND ${MEMBER}
        AND ${now}::pg_catalog.text IS DISTINCT FROM ${then}::pg_catalog.text`;
  });
  // Column privileges: their default is none (NULL, which aclexplode reads as no rows; an empty
  // array it refuses).
  selects.push(`SELECT d.refobjid, 'TABLE ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
      pg_catalog.pg_describe_object(d.classid, d.objid, at.attnum), pg_catalog.pg_get_userbyid(c.relowner),
      pg_catalog.quote_ident(at.attname), ${aclJsonSql(nonEmpty('at.attacl'), nonEmpty('ip.initprivs'))}
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_attribute at ON at.attrelid = c.oid AND at.attnum > 0 AND NOT at.attisdropped
    LEFT JOIN pg_catalog.pg_init_privs ip ON ip.classoid = d.classid AND ip.objoid = d.objid AND ip.objsubid = at.attnum
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ${MEMBER}
      AND ${nonEmpty('at.attacl')}::pg_catalog.text IS DISTINCT FROM ${nonEmpty('ip.initprivs')}::pg_catalog.text`);
  const rows = await capture.query<MemberAclRow>(`${selects.join('\nUNION ALL\n')}\nORDER BY 3, 5`);
  for (const row of rows) {
    const node = key('pg_extension', row.extension);
    const object = row.column ? `${row.object} column ${row.column}` : row.object;
    const statements = privilegeStatements(row.target, object, row.owner, row.acl, row.column ?? undefined);
    if (capture.objects.has(node)) capture.append(node, ...statements);
    // An extension created at initdb (plpgsql) is not captured: every target has it already.
    else if (statements.length > 0)
      capture.add({ key: `extension member acl:${object}`, kind: 'acl', identity: object, statements });
  }
}

const nonEmpty = (acl: string) => `(CASE WHEN pg_catalog.cardinality(${acl}) > 0 THEN ${acl} END)`;

const MEMBER = `d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass`;
