// Schemas, and the differences of the pre-existing `public` schema from what a new database of
// the same server version has (owner, ACL, comment).
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import { quoteLiteral } from '../sql.ts';

interface SchemaRow {
  oid: number;
  ident: string;
  owner: string;
  acl: AclJson | null;
  comment: string | null;
}

const PUBLIC_OID = 2200;
// makeaclitem takes one privilege per item before PostgreSQL 16.
const item = (grantee: string, privilege: string) =>
  `pg_catalog.makeaclitem(${grantee}, n.nspowner, '${privilege}', false)`;

export async function captureSchemas(capture: Capture): Promise<void> {
  const rows = await capture.query<SchemaRow>(`
    SELECT n.oid, pg_catalog.quote_ident(n.nspname) AS ident, pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
      ${aclSql('n.nspacl', 'n', 'n.nspowner')} AS acl, NULL AS comment
    FROM pg_catalog.pg_namespace n
    WHERE ${USER_SCHEMA} AND n.oid <> ${PUBLIC_OID} AND ${notExtensionMember('pg_namespace', 'n.oid')}`);
  for (const row of rows) {
    const object = `schema ${row.ident}`;
    const nodeKey = key('pg_namespace', row.oid);
    capture.add({
      key: nodeKey,
      kind: 'schema',
      identity: row.ident,
      statements: [
        { object, kind: 'schema', sql: `CREATE SCHEMA ${row.ident}` },
        ownerStatement(`SCHEMA ${row.ident}`, object, row.owner),
        ...privilegeStatements(`SCHEMA ${row.ident}`, object, row.owner, row.acl),
      ],
    });
    capture.comments.set(nodeKey, { target: `SCHEMA ${row.ident}`, object, node: nodeKey });
  }
  await capturePublicSchema(capture);
}

/** public exists in every new database; only its differences from the version default are kept. */
async function capturePublicSchema(capture: Capture): Promise<void> {
  // PostgreSQL 15 made pg_database_owner the owner and dropped CREATE for PUBLIC.
  const modern = capture.version >= 150000;
  const defaultOwner = modern ? `'pg_database_owner'::pg_catalog.regrole` : `10::pg_catalog.oid`;
  // After ALTER SCHEMA ... OWNER TO, the server rewrites the owner's entries: compare to that.
  const defaultAcl = modern
    ? `ARRAY[${item('n.nspowner', 'USAGE')}, ${item('n.nspowner', 'CREATE')}, ${item('0', 'USAGE')}]`
    : `ARRAY[${item('n.nspowner', 'USAGE')}, ${item('n.nspowner', 'CREATE')}, ${item('0', 'USAGE')}, ${item('0', 'CREATE')}]`;
  const [row] = await capture.query<SchemaRow & { default_owner: string }>(`
    SELECT n.oid, 'public' AS ident, pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
      pg_catalog.pg_get_userbyid(${defaultOwner}) AS default_owner,
      pg_catalog.json_build_object(
        'actual', (SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(
            pg_catalog.pg_get_userbyid(e.grantor),
            CASE WHEN e.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(e.grantee) END,
            e.privilege_type, e.is_grantable)), '[]')
          FROM pg_catalog.aclexplode(COALESCE(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) e),
        'default', (SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(
            pg_catalog.pg_get_userbyid(e.grantor),
            CASE WHEN e.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(e.grantee) END,
            e.privilege_type, e.is_grantable)), '[]')
          FROM pg_catalog.aclexplode(${defaultAcl}) e)) AS acl,
      pg_catalog.obj_description(n.oid, 'pg_namespace') AS comment
    FROM pg_catalog.pg_namespace n WHERE n.oid = ${PUBLIC_OID}`);
  const object = 'schema public';
  const nodeKey = key('pg_namespace', PUBLIC_OID);
  const node = capture.add({ key: nodeKey, kind: 'schema', identity: 'public', statements: [] });
  if (!row) {
    // Dropped in the source: drop it on the target too so the schema lists match.
    node.statements.push({ object, kind: 'schema', sql: 'DROP SCHEMA IF EXISTS public' });
    return;
  }
  if (row.owner !== row.default_owner) node.statements.push(ownerStatement('SCHEMA public', object, row.owner));
  node.statements.push(...privilegeStatements('SCHEMA public', object, row.owner, row.acl));
  if (row.comment !== 'standard public schema') {
    const text = row.comment === null ? 'NULL' : quoteLiteral(row.comment);
    node.statements.push({ object, kind: 'comment', sql: `COMMENT ON SCHEMA public IS ${text}` });
  }
}
