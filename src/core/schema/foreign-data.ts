// Foreign-data wrappers, servers and user mappings (foreign tables are tables.ts's, with SERVER
// and OPTIONS). A wrapper from an extension (postgres_fdw, file_fdw) comes with CREATE EXTENSION;
// one made without is captured with its handler, validator, options, owner and grants. A user
// mapping's password is never read into a backup: the mapping is restored without it, and the
// backup says how to set it again.
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember } from './context.ts';
import { fdwOptions } from './quote.ts';
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';

interface ServerRow {
  oid: number;
  ident: string;
  fdw: string;
  type: string | null;
  version: string | null;
  options: string[] | null;
  owner: string;
  acl: AclJson | null;
}

interface MappingRow {
  oid: number;
  server_oid: number;
  server: string;
  /** null for PUBLIC */
  role: string | null;
  options: string[] | null;
  /** Whether this role may see the options (NULL options are then none, not hidden). */
  visible: boolean;
}

/** Options that hold secrets: left out of the backup. */
const SECRET = /pass|secret|token|key/i;

interface WrapperRow {
  oid: number;
  ident: string;
  handler: string | null;
  validator: string | null;
  options: string[] | null;
  owner: string;
  acl: AclJson | null;
}

const proc = (column: string) => `CASE WHEN ${column} <> 0 THEN ${column}::pg_catalog.regproc::pg_catalog.text END`;

export async function captureForeignServers(capture: Capture): Promise<void> {
  // regproc qualifies the functions: captureSchema emptied search_path.
  const wrappers = await capture.query<WrapperRow>(`
    SELECT w.oid, pg_catalog.quote_ident(w.fdwname) AS ident, ${proc('w.fdwhandler')} AS handler,
      ${proc('w.fdwvalidator')} AS validator, w.fdwoptions AS options, pg_catalog.pg_get_userbyid(w.fdwowner) AS owner,
      ${aclSql('w.fdwacl', 'F', 'w.fdwowner')} AS acl
    FROM pg_catalog.pg_foreign_data_wrapper w
    WHERE w.oid >= 16384 AND ${notExtensionMember('pg_foreign_data_wrapper', 'w.oid')}
    ORDER BY 2`);
  for (const row of wrappers) {
    const nodeKey = key('pg_foreign_data_wrapper', row.oid);
    const object = `foreign-data wrapper ${row.ident}`;
    const handler = row.handler === null ? '' : ` HANDLER ${row.handler}`;
    const validator = row.validator === null ? '' : ` VALIDATOR ${row.validator}`;
    capture.add({
      key: nodeKey,
      kind: 'foreign-data wrapper',
      identity: row.ident,
      statements: [
        {
          object,
          kind: 'foreign-data wrapper',
          sql: `CREATE FOREIGN DATA WRAPPER ${row.ident}${handler}${validator}${fdwOptions(row.options)}`,
        },
        ownerStatement(`FOREIGN DATA WRAPPER ${row.ident}`, object, row.owner),
        ...privilegeStatements(`FOREIGN DATA WRAPPER ${row.ident}`, object, row.owner, row.acl),
      ],
    });
    capture.comments.set(nodeKey, { target: `FOREIGN DATA WRAPPER ${row.ident}`, object, node: nodeKey });
  }
  const servers = await capture.query<ServerRow>(`
    SELECT s.oid, pg_catalog.quote_ident(s.srvname) AS ident, pg_catalog.quote_ident(w.fdwname) AS fdw,
      s.srvtype AS type, s.srvversion AS version, s.srvoptions AS options,
      pg_catalog.pg_get_userbyid(s.srvowner) AS owner, ${aclSql('s.srvacl', 'S', 's.srvowner')} AS acl
    FROM pg_catalog.pg_foreign_server s JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
    WHERE s.oid >= 16384 AND ${notExtensionMember('pg_foreign_server', 's.oid')}
    ORDER BY 2`);
  for (const row of servers) {
    const nodeKey = key('pg_foreign_server', row.oid);
    const object = `foreign server ${row.ident}`;
    const type = row.type === null ? '' : ` TYPE ${quoteLiteral(row.type)}`;
    const version = row.version === null ? '' : ` VERSION ${quoteLiteral(row.version)}`;
    capture.add({
      key: nodeKey,
      kind: 'foreign server',
      identity: row.ident,
      statements: [
        {
          object,
          kind: 'foreign server',
          sql: `CREATE SERVER ${row.ident}${type}${version} FOREIGN DATA WRAPPER ${row.fdw}${fdwOptions(row.options)}`,
        },
        ownerStatement(`SERVER ${row.ident}`, object, row.owner),
        ...privilegeStatements(`FOREIGN SERVER ${row.ident}`, object, row.owner, row.acl),
      ],
    });
    capture.comments.set(nodeKey, { target: `SERVER ${row.ident}`, object, node: nodeKey });
  }
  // pg_user_mappings shows the options only to whom may see them (the server's owner, a superuser).
  const mappings = await capture.query<MappingRow>(`
    SELECT m.umid AS oid, m.srvid AS server_oid, pg_catalog.quote_ident(m.srvname) AS server,
      CASE WHEN m.umuser = 0 THEN NULL ELSE m.usename END AS role, m.umoptions AS options,
      COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER), false)
        OR pg_catalog.pg_has_role(s.srvowner, 'USAGE')
        OR (m.usename = CURRENT_USER AND pg_catalog.has_server_privilege(m.srvid, 'USAGE')) AS visible
    FROM pg_catalog.pg_user_mappings m JOIN pg_catalog.pg_foreign_server s ON s.oid = m.srvid
    WHERE m.srvid >= 16384 AND ${notExtensionMember('pg_foreign_server', 'm.srvid')}
    ORDER BY 3, 4`);
  for (const row of mappings) {
    const who = row.role === null ? 'PUBLIC' : quoteIdentLikeServer(row.role);
    const object = `user mapping for ${who} on server ${row.server}`;
    const kept = (row.options ?? []).filter((o) => !SECRET.test(o.slice(0, o.indexOf('='))));
    const left = (row.options ?? [])
      .filter((o) => SECRET.test(o.slice(0, o.indexOf('='))))
      .map((o) => o.slice(0, o.indexOf('=')));
    capture.add({
      key: `user mapping:${row.oid}`,
      kind: 'user mapping',
      identity: `${row.server} ${who}`,
      after: [key('pg_foreign_server', row.server_oid)],
      statements: [
        {
          object,
          kind: 'user mapping',
          sql: `CREATE USER MAPPING FOR ${who} SERVER ${row.server}${fdwOptions(kept)}`,
          ...(row.role === null ? {} : { roles: [row.role] }),
        },
      ],
    });
    if (left.length > 0) {
      capture.warnings.push(
        `${object}: option ${left.join(', ')} not backed up (secrets stay out of backups); after a restore, set it again with ` +
          `ALTER USER MAPPING FOR ${who} SERVER ${row.server} OPTIONS (ADD ${left[0]} '…')`,
      );
    } else if (!row.visible) {
      capture.warnings.push(
        `${object}: its options are not visible to the backup's role (only the server's owner or a superuser sees them) and are not backed up; set them again after a restore with ALTER USER MAPPING`,
      );
    }
  }
}
