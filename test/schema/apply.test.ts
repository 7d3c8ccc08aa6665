// applyStatements: skips statements whose roles are missing (with a warning), and names the
// object and PostgreSQL's message when a statement fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStatements, applyWaves, listRoles } from '#core/schema/apply.ts';
import { captureSchema } from '#core/schema/capture.ts';
import type { DdlStatement } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { queryOf, withClient } from './helpers.ts';

describe("applyStatements (and captureSchema preconditions)", () => {
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
    const warnings = await withClient(url, async (c) => applyStatements(queryOf(c), statements, await listRoles(queryOf(c))));
    expect(warnings).toEqual(['skipped owner statement for table public.t: role "ghost" does not exist on the target']);
    const [row] = (await server.sql(`SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'public.t'::regclass`, 'target')).rows;
    expect(row.owner).toBe('postgres');
  });

  it('names the object and includes the PostgreSQL message when a statement fails', async () => {
    const bad: DdlStatement = { object: 'index public.t_idx', kind: 'index', sql: 'CREATE INDEX t_idx ON public.t (missing_column)' };
    await expect(withClient(url, async (c) => applyStatements(queryOf(c), [bad], new Set())))
      .rejects.toThrow('Restoring index public.t_idx failed: column "missing_column" does not exist');
  });

  it('runs waves in order with statements of one wave spread over sessions', async () => {
    const waves: DdlStatement[][] = [
      [1, 2, 3].map((i) => ({ object: `table public.w${i}`, kind: 'table', sql: `CREATE TABLE public.w${i} (id integer)` })),
      [1, 2, 3].map((i) => ({ object: `index public.w${i}_idx`, kind: 'index', sql: `CREATE INDEX w${i}_idx ON public.w${i} (id)` })),
    ];
    const seen: string[] = [];
    const warnings = await applyWaves(waves, (stmts) => withClient(url, async (c) => {
      seen.push(...stmts.map((s) => s.object));
      return applyStatements(queryOf(c), stmts, new Set());
    }), 2);
    expect(warnings).toEqual([]);
    expect(seen.slice(0, 3).every((o) => o.startsWith('table'))).toBe(true);
    expect(seen).toHaveLength(6);
  });

  it('captureSchema refuses to run outside a transaction, where its search_path change would not hold', async () => {
    await expect(withClient(url, (c) => captureSchema(queryOf(c)))).rejects.toThrow('must run inside a transaction');
  });
});
