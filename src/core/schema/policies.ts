// Row-level security policies (enablement is in tables.ts). After the data, like pg_dump.
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';
import { roleList } from './quote.ts';

interface PolicyRow {
  oid: number;
  name: string;
  table: string;
  cmd: '*' | 'r' | 'a' | 'w' | 'd';
  permissive: boolean;
  /** role names, null for PUBLIC */
  roles: (string | null)[];
  qual: string | null;
  withcheck: string | null;
}

const COMMAND = { '*': 'ALL', r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE' } as const;

export async function capturePolicies(capture: Capture): Promise<void> {
  const rows = await capture.query<PolicyRow>(`
    SELECT p.oid, pg_catalog.quote_ident(p.polname) AS name,
      pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS table,
      p.polcmd AS cmd, p.polpermissive AS permissive,
      (SELECT pg_catalog.json_agg(CASE WHEN r = 0 THEN NULL ELSE pg_catalog.pg_get_userbyid(r) END)
        FROM pg_catalog.unnest(p.polroles) r) AS roles,
      pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS qual,
      pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS withcheck
    FROM pg_catalog.pg_policy p
    JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND ${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}
    ORDER BY 3, 2`);
  for (const row of rows) {
    const object = `policy ${row.name} on ${row.table}`;
    const roles = row.roles.filter((r): r is string => r !== null);
    const head = `CREATE POLICY ${row.name} ON ${row.table} AS ${row.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${COMMAND[row.cmd]} TO `;
    let tail = '';
    if (row.qual !== null) tail += ` USING (${row.qual})`;
    if (row.withcheck !== null) tail += ` WITH CHECK (${row.withcheck})`;
    // A role the target lacks is left out of the policy, not the policy out of the database: the
    // role cannot log in there, and PUBLIC and the other roles keep their rule (schema/apply.ts).
    // `roles` is for readers before `appliesTo`, which skip the policy instead.
    capture.addPost(Wave.dependents, {
      object,
      kind: 'policy',
      sql: head + roleList(row.roles) + tail,
      ...(roles.length ? { roles } : {}),
      appliesTo: { head, tail, roles: row.roles },
    });
    capture.comments.set(key('pg_policy', row.oid), {
      target: `POLICY ${row.name} ON ${row.table}`,
      object,
      wave: Wave.finishing,
    });
  }
}
