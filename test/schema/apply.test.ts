// applyStatements: skips statements whose roles are missing (with a warning), and names the
// object and PostgreSQL's message when a statement fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStatements, applyWaves, rolesOnTarget, statementForTarget, targetRoles } from '#core/schema/apply.ts';
import { captureSchema } from '#core/schema/capture.ts';
import type { DdlStatement } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { queryOf, withClient } from './helpers.ts';

describe('applyStatements (and captureSchema preconditions)', () => {
  let server: PostgresServer;
  let url: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    url = await server.createDatabase('target');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('skips a statement needing a role the target lacks and reports it', async () => {
    const statements: DdlStatement[] = [
      { object: 'table public.t', kind: 'table', sql: 'CREATE TABLE public.t (id integer)' },
      { object: 'table public.t', kind: 'owner', sql: 'ALTER TABLE public.t OWNER TO ghost', roles: ['ghost'] },
    ];
    const warnings = await withClient(url, async (c) =>
      applyStatements(queryOf(c), statements, await targetRoles(queryOf(c), statements)),
    );
    expect(warnings).toEqual(['skipped owner statement for table public.t: role "ghost" does not exist on the target']);
    const [row] = (
      await server.sql(
        `SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'public.t'::regclass`,
        'target',
      )
    ).rows;
    expect(row.owner).toBe('postgres');
  });

  it('a permissive policy keeps the roles the target has, one for none of them is not created (nor its comment); a restrictive one restricts PUBLIC instead', async () => {
    await server.sql(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'present') THEN CREATE ROLE present NOLOGIN; CREATE ROLE present2 NOLOGIN; END IF; END $$`,
    );
    const policy = (name: string, roles: (string | null)[], as = 'PERMISSIVE'): DdlStatement[] => {
      const head = `CREATE POLICY ${name} ON public.p AS ${as} FOR SELECT TO `;
      const tail = ' USING (id > 0)';
      const object = `policy ${name} on public.p`;
      const named = roles.filter((r): r is string => r !== null);
      return [
        {
          object,
          kind: 'policy',
          sql: head + roles.map((r) => r ?? 'PUBLIC').join(', ') + tail,
          roles: named,
          appliesTo: { head, tail, roles },
        },
        { object, kind: 'comment', sql: `COMMENT ON POLICY ${name} ON public.p IS 'about ${name}'` },
      ];
    };
    const statements: DdlStatement[] = [
      { object: 'table public.p', kind: 'table', sql: 'CREATE TABLE public.p (id integer)' },
      ...policy('for_all', ['present']),
      ...policy('partly', ['present', 'ghost', 'present2']),
      ...policy('public', [null, 'ghost']),
      ...policy('nobody', ['ghost', 'phantom']),
      ...policy('limits', ['present', 'ghost'], 'RESTRICTIVE'),
    ];
    const warnings = await withClient(url, async (c) =>
      applyStatements(queryOf(c), statements, await targetRoles(queryOf(c), statements)),
    );
    expect(warnings).toEqual([
      'policy partly on public.p applies to present, present2 only: role "ghost" does not exist on the target',
      'policy public on public.p applies to PUBLIC only: role "ghost" does not exist on the target',
      'skipped policy statement for policy nobody on public.p: role "ghost", "phantom" does not exist on the target',
      'skipped comment statement for policy nobody on public.p: it was not created, as role "ghost", "phantom" does not exist on the target',
      'policy limits on public.p is RESTRICTIVE and role "ghost" does not exist on the target: it now restricts PUBLIC',
    ]);
    const { rows } = await server.sql(
      `SELECT polname, array_to_string(ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END FROM unnest(polroles) r ORDER BY 1), ',') AS roles,
              obj_description(p.oid, 'pg_policy') AS comment
         FROM pg_policy p WHERE polrelid = 'public.p'::regclass ORDER BY 1`,
      'target',
    );
    expect(rows).toEqual([
      { polname: 'for_all', roles: 'present', comment: 'about for_all' },
      { polname: 'limits', roles: 'PUBLIC', comment: 'about limits' },
      { polname: 'partly', roles: 'present,present2', comment: 'about partly' },
      { polname: 'public', roles: 'PUBLIC', comment: 'about public' },
    ]);
  });

  it('a policy written before appliesTo is skipped whole when a role is missing, and so is its comment', () => {
    const object = 'policy old on public.p';
    const statements: DdlStatement[] = [
      { object, kind: 'policy', sql: 'CREATE POLICY old ON public.p TO PUBLIC, ghost', roles: ['ghost'] },
      { object, kind: 'comment', sql: `COMMENT ON POLICY old ON public.p IS 'x'` },
    ];
    const target = rolesOnTarget(new Set(['postgres']), statements);
    expect(statements.map((s) => statementForTarget(s, target))).toEqual([
      { warning: 'skipped policy statement for policy old on public.p: role "ghost" does not exist on the target' },
      {
        warning:
          'skipped comment statement for policy old on public.p: it was not created, as role "ghost" does not exist on the target',
      },
    ]);
  });

  it('a revoke from PUBLIC runs whatever roles it lists; an owner statement with a fallback runs that instead', () => {
    const target = rolesOnTarget(new Set(['postgres']), []);
    const revoke: DdlStatement = {
      object: 'function public.f()',
      kind: 'acl',
      sql: 'REVOKE ALL ON FUNCTION public.f() FROM PUBLIC',
      roles: ['ghost'],
    };
    const revokeFromGhost: DdlStatement = { ...revoke, sql: 'REVOKE ALL ON FUNCTION public.f() FROM ghost' };
    const owner: DdlStatement = {
      object: 'function public.f()',
      kind: 'owner',
      sql: 'ALTER FUNCTION public.f() OWNER TO ghost',
      roles: ['ghost'],
      insteadIfRolesMissing: {
        sql: 'REVOKE EXECUTE ON FUNCTION public.f() FROM PUBLIC',
        why: 'it is SECURITY DEFINER',
      },
    };
    expect(statementForTarget(revoke, target)).toEqual({ sql: revoke.sql });
    expect(statementForTarget(revokeFromGhost, target)).toEqual({
      warning: 'skipped acl statement for function public.f(): role "ghost" does not exist on the target',
    });
    expect(statementForTarget(owner, target)).toEqual({
      sql: 'REVOKE EXECUTE ON FUNCTION public.f() FROM PUBLIC',
      warning:
        'skipped owner statement for function public.f(): role "ghost" does not exist on the target; it is SECURITY DEFINER',
    });
    expect(statementForTarget(owner, rolesOnTarget(new Set(['ghost']), []))).toEqual({ sql: owner.sql });
  });

  it('a restoring role that is not a superuser: owners and grantors it cannot act as are skipped, grants by another role use SET ROLE; manifests before actsAs too', () => {
    const existing = new Set(['restorer', 'owner', 'admin', 'reader', 'outsider']);
    const restorer = { name: 'restorer', superuser: false, actAs: new Set(['restorer', 'owner', 'admin', 'reader']) };
    const target = rolesOnTarget(existing, [], restorer);
    const object = 'table public.t';
    const byAdmin =
      'SET SESSION AUTHORIZATION admin; GRANT SELECT ON TABLE public.t TO reader; RESET SESSION AUTHORIZATION';
    const current: DdlStatement[] = [
      { object, kind: 'owner', sql: 'ALTER TABLE public.t OWNER TO owner', roles: ['owner'], actsAs: ['owner'] },
      { object, kind: 'acl', sql: byAdmin, roles: ['owner', 'admin', 'reader'], actsAs: ['owner', 'admin'] },
      {
        object,
        kind: 'owner',
        sql: 'ALTER TABLE public.t OWNER TO outsider',
        roles: ['outsider'],
        actsAs: ['outsider'],
      },
      {
        object,
        kind: 'acl',
        sql: 'GRANT SELECT ON TABLE public.t TO reader',
        roles: ['outsider', 'reader'],
        actsAs: ['outsider'],
      },
      // A grantee needs only to exist.
      {
        object,
        kind: 'acl',
        sql: 'GRANT SELECT ON TABLE public.t TO outsider',
        roles: ['owner', 'outsider'],
        actsAs: ['owner'],
      },
    ];
    const cannot =
      'the restoring role "restorer" cannot act as role "outsider"; to restore it, grant the membership first (GRANT outsider TO restorer) or restore as a superuser';
    const expected = [
      { sql: 'ALTER TABLE public.t OWNER TO owner' },
      { sql: 'SET ROLE admin; GRANT SELECT ON TABLE public.t TO reader; RESET ROLE' },
      { warning: `skipped owner statement for table public.t: ${cannot}` },
      { warning: `skipped acl statement for table public.t: ${cannot}` },
      { sql: 'GRANT SELECT ON TABLE public.t TO outsider' },
    ];
    expect(current.map((s) => statementForTarget(s, target))).toEqual(expected);
    // Written before actsAs: the owner is first in a grant's roles, the grantor in its SET SESSION AUTHORIZATION.
    const older = current.map(({ actsAs: _, ...rest }) => rest);
    expect(older.map((s) => statementForTarget(s, target))).toEqual(expected);
    const grantedByOutsider = {
      object,
      kind: 'acl',
      sql: byAdmin.replace('admin', '"outsider"'),
      roles: ['owner', 'outsider', 'reader'],
    };
    expect(statementForTarget(grantedByOutsider, target)).toEqual({
      warning: `skipped acl statement for table public.t: ${cannot}`,
    });
    // A superuser keeps SET SESSION AUTHORIZATION, as pg_dump writes it.
    expect(statementForTarget(current[1]!, rolesOnTarget(existing, []))).toEqual({ sql: byAdmin });
  });

  it('names the object and includes the PostgreSQL message when a statement fails', async () => {
    const bad: DdlStatement = {
      object: 'index public.t_idx',
      kind: 'index',
      sql: 'CREATE INDEX t_idx ON public.t (missing_column)',
    };
    await expect(
      withClient(url, async (c) => applyStatements(queryOf(c), [bad], rolesOnTarget(new Set(), []))),
    ).rejects.toThrow('Restoring index public.t_idx failed: column "missing_column" does not exist');
  });

  it('runs waves in order with statements of one wave spread over sessions', async () => {
    const waves: DdlStatement[][] = [
      [1, 2, 3].map((i) => ({
        object: `table public.w${i}`,
        kind: 'table',
        sql: `CREATE TABLE public.w${i} (id integer)`,
      })),
      [1, 2, 3].map((i) => ({
        object: `index public.w${i}_idx`,
        kind: 'index',
        sql: `CREATE INDEX w${i}_idx ON public.w${i} (id)`,
      })),
    ];
    const seen: string[] = [];
    const warnings = await applyWaves(
      waves,
      (stmts) =>
        withClient(url, async (c) => {
          seen.push(...stmts.map((s) => s.object));
          return applyStatements(queryOf(c), stmts, rolesOnTarget(new Set(), []));
        }),
      2,
    );
    expect(warnings).toEqual([]);
    expect(seen.slice(0, 3).every((o) => o.startsWith('table'))).toBe(true);
    expect(seen).toHaveLength(6);
  });

  it('captureSchema refuses to run outside a transaction, where its search_path change would not hold', async () => {
    await expect(withClient(url, (c) => captureSchema(queryOf(c)))).rejects.toThrow('must run inside a transaction');
  });
});
