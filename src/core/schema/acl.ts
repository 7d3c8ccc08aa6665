// Ownership and privileges. Privileges are restored like pg_dump does: the object's aclitem[]
// is compared with the default the server gives a new object (acldefault), and only the
// difference becomes REVOKE / GRANT statements.
import type { DdlStatement } from './model.ts';
import { roleList } from './quote.ts';
import { quoteIdentLikeServer } from '../sql.ts';

/** [grantor, grantee (null = PUBLIC), privilege, grantable] as aclexplode() reports them. */
type AclItem = [string, string | null, string, boolean];
export interface AclJson {
  actual: AclItem[];
  default: AclItem[];
}

const explode = (acl: string) =>
  `(SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(
      pg_catalog.pg_get_userbyid(e.grantor),
      CASE WHEN e.grantee = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(e.grantee) END,
      e.privilege_type, e.is_grantable)), '[]') FROM pg_catalog.aclexplode(${acl}) e)`;

/** SQL select-list expression giving an AclJson from an ACL and the default it is compared with. */
export function aclJsonSql(aclExpr: string, defaultExpr: string): string {
  return `pg_catalog.json_build_object('actual', ${explode(aclExpr)}, 'default', ${explode(defaultExpr)})`;
}

/**
 * SQL select-list expression giving an AclJson (NULL when the ACL was never changed).
 * `kind` is acldefault()'s object type letter; omit it for columns, whose default is empty.
 */
export function aclSql(aclExpr: string, kind: string | null, ownerExpr: string): string {
  const defaults = kind ? explode(`pg_catalog.acldefault('${kind}', ${ownerExpr})`) : `'[]'::json`;
  return `CASE WHEN ${aclExpr} IS NULL THEN NULL
    ELSE pg_catalog.json_build_object('actual', ${explode(aclExpr)}, 'default', ${defaults}) END`;
}

export function ownerStatement(
  target: string,
  object: string,
  owner: string,
  insteadIfRolesMissing?: DdlStatement['insteadIfRolesMissing'],
): DdlStatement {
  return {
    object,
    kind: 'owner',
    sql: `ALTER ${target} OWNER TO ${quoteIdentLikeServer(owner)}`,
    roles: [owner],
    actsAs: [owner],
    ...(insteadIfRolesMissing ? { insteadIfRolesMissing } : {}),
  };
}

interface Change {
  grantor: string;
  grantee: string | null;
  privileges: string[];
  verb: 'GRANT' | 'GRANT_OPTION' | 'REVOKE' | 'REVOKE_OPTION';
}

/**
 * GRANT/REVOKE statements turning acldefault into the captured ACL.
 * `target` is e.g. `TABLE public.t`; `column` (quoted) makes them column privileges.
 */
export function privilegeStatements(
  target: string,
  object: string,
  owner: string,
  acl: AclJson | null,
  column?: string,
): DdlStatement[] {
  if (!acl) return [];
  const id = (i: AclItem) => `${i[0]}\u0000${i[1] ?? ''}\u0000${i[2]}`;
  const actual = new Map(acl.actual.map((i) => [id(i), i]));
  const defaults = new Map(acl.default.map((i) => [id(i), i]));
  const changes = new Map<string, Change>();
  const note = (item: AclItem, verb: Change['verb']) => {
    const k = `${verb}\u0000${item[0]}\u0000${item[1] ?? ''}`;
    const change = changes.get(k) ?? { grantor: item[0], grantee: item[1], privileges: [], verb };
    change.privileges.push(column ? `${item[2]}(${column})` : item[2]);
    changes.set(k, change);
  };
  for (const [k, item] of defaults) {
    const now = actual.get(k);
    if (!now) note(item, 'REVOKE');
    else if (item[3] && !now[3]) note(item, 'REVOKE_OPTION');
  }
  for (const [k, item] of actual) {
    const before = defaults.get(k);
    if (!before) note(item, item[3] ? 'GRANT_OPTION' : 'GRANT');
    else if (item[3] && !before[3]) note(item, 'GRANT_OPTION');
  }
  // Revokes first, so a re-grant with a different option is not undone.
  const ordered = [...changes.values()].sort(
    (a, b) => Number(a.verb.startsWith('GRANT')) - Number(b.verb.startsWith('GRANT')),
  );
  return ordered.map((c) => {
    const who = roleList([c.grantee]);
    const privs = c.privileges.join(',');
    if (c.verb === 'REVOKE' || c.verb === 'REVOKE_OPTION') {
      // A revoke needs only its grantee. Not the owner: where the owner is missing the restoring
      // user owns the object, and its REVOKE … FROM PUBLIC must still run, or PUBLIC would keep
      // a privilege the source took away.
      const sql =
        c.verb === 'REVOKE'
          ? `REVOKE ${privs} ON ${target} FROM ${who}`
          : `REVOKE GRANT OPTION FOR ${privs} ON ${target} FROM ${who}`;
      return { object, kind: 'acl', sql, ...(c.grantee === null ? {} : { roles: [c.grantee] }) };
    }
    let sql = `GRANT ${privs} ON ${target} TO ${who}${c.verb === 'GRANT_OPTION' ? ' WITH GRANT OPTION' : ''}`;
    // A grant made by someone other than the owner is replayed as that role, as pg_dump does.
    if (c.grantor !== owner)
      sql = `SET SESSION AUTHORIZATION ${quoteIdentLikeServer(c.grantor)}; ${sql}; RESET SESSION AUTHORIZATION`;
    // A grant needs the owner too: given by the restoring user instead, it would let the grantee
    // into a view or a SECURITY DEFINER function that now runs with that user's rights.
    return {
      object,
      kind: 'acl',
      sql,
      roles: [...new Set([owner, c.grantor, ...(c.grantee === null ? [] : [c.grantee])])],
      actsAs: [...new Set([owner, c.grantor])],
    };
  });
}
