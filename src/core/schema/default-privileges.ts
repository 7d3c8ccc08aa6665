// ALTER DEFAULT PRIVILEGES: what the source's pg_default_acl changed from the built-in defaults
// (acldefault for a role-wide entry, nothing for a per-schema one), as pg_dump writes it. They go
// last in post-data: set earlier, a default for the restoring role would grant on everything the
// restore creates afterwards. The statements of one entry form one unit (post-data-units.ts).
import { aclJsonSql, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, Wave } from './context.ts';
import { quoteIdentLikeServer } from '../sql.ts';

interface DefaultAclRow {
  role: string;
  schema: string | null;
  /** `L`: large objects (PostgreSQL 18+, never per schema). */
  objtype: 'r' | 'S' | 'f' | 'T' | 'n' | 'L';
  acl: AclJson;
}

const OBJECTS: Record<DefaultAclRow['objtype'], string> = {
  r: 'TABLES',
  S: 'SEQUENCES',
  f: 'FUNCTIONS',
  T: 'TYPES',
  n: 'SCHEMAS',
  L: 'LARGE OBJECTS',
};

export async function captureDefaultPrivileges(capture: Capture): Promise<void> {
  // acldefault's letter for sequences is 's' ('S' is a foreign server there).
  const rows = await capture.query<DefaultAclRow>(`
    SELECT pg_catalog.pg_get_userbyid(d.defaclrole) AS role, n.nspname AS schema, d.defaclobjtype AS objtype,
      ${aclJsonSql(
        'd.defaclacl',
        `CASE WHEN d.defaclnamespace = 0
        THEN pg_catalog.acldefault(CASE d.defaclobjtype WHEN 'S' THEN 's' ELSE d.defaclobjtype END, d.defaclrole)
        END`,
      )} AS acl
    FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
    ORDER BY 1, 2 NULLS FIRST, 3`);
  for (const row of rows) {
    const scope = `FOR ROLE ${quoteIdentLikeServer(row.role)}${row.schema === null ? '' : ` IN SCHEMA ${quoteIdentLikeServer(row.schema)}`}`;
    const object = `default privileges for role ${quoteIdentLikeServer(row.role)}${row.schema === null ? '' : ` in schema ${quoteIdentLikeServer(row.schema)}`} on ${OBJECTS[row.objtype].toLowerCase()}`;
    for (const statement of privilegeStatements(OBJECTS[row.objtype], object, row.role, row.acl)) {
      capture.addPost(Wave.finishing, {
        ...statement,
        kind: 'default privileges',
        sql: `ALTER DEFAULT PRIVILEGES ${scope} ${statement.sql}`,
        // FOR ROLE needs the role to exist and the restoring role to act as it.
        roles: [...new Set([row.role, ...(statement.roles ?? [])])],
        actsAs: [row.role],
      });
    }
  }
}
