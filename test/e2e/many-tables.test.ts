// Issue 10, item 6: pre-data of thousands of tables commits in bounded transactions, so it never
// exhausts the server's lock table; where a statement still does, the error names the setting.
// The server runs with the smallest max_locks_per_transaction (10, and 20 connections: a lock table of a few hundred slots) so
// that 1,500 tables are past it as 10,000 are past the default (64).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '#test/support/pipeline.ts';
import { applyStatements, rolesOnTarget } from '#core/schema/apply.ts';
import type { DdlStatement } from '#core/schema/model.ts';
import { applyPreData } from '#core/restore/pre-data.ts';
import { createProgressTables } from '#core/restore/progress-table.ts';
import { openLocalContext } from '#local/local-context.ts';

const TABLES = 1500;

describe(`${TABLES} tables on a server with a small lock table`, () => {
  let server: PostgresServer;
  let repo: string;

  beforeAll(async () => {
    server = await startPostgres({
      major: 15,
      extraFlags: ['-c', 'max_locks_per_transaction=10', '-c', 'max_connections=20'],
    });
    await server.createDatabase('many');
    // In several transactions: the source itself cannot create them all in one.
    for (let from = 1; from <= TABLES; from += 100) {
      await server.sql(
        `DO $$ BEGIN FOR i IN ${from}..${Math.min(TABLES, from + 99)} LOOP
           EXECUTE format('CREATE TABLE public.t%s (id int PRIMARY KEY, v text)', i);
         END LOOP; END $$`,
        'many',
      );
    }
    await server.sql(
      `INSERT INTO public.t1 VALUES (1, 'one'), (2, 'two'); INSERT INTO public.t${TABLES} VALUES (3, 'three')`,
      'many',
    );
    repo = await tempRepository();
  });

  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('one transaction for them all fails, and the error names the setting to raise', async () => {
    await server.createDatabase('one_transaction');
    const client = new pg.Client({ connectionString: server.url('one_transaction') });
    await client.connect();
    try {
      const statements: DdlStatement[] = Array.from({ length: TABLES }, (_, i) => ({
        object: `table public.t${i + 1}`,
        kind: 'table',
        sql: `CREATE TABLE public.t${i + 1} (id int, v text)`,
      }));
      await client.query('BEGIN');
      const failure = await applyStatements(
        async (sql) => (await client.query(sql)).rows,
        statements,
        rolesOnTarget(new Set(), []),
      ).catch((err: Error) => err);
      await client.query('ROLLBACK');
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        /^Restoring table public\.t\d+ failed: out of shared memory\. .*raise max_locks_per_transaction/,
      );
    } finally {
      await client.end();
    }
  });

  it('a pre-data that failed halfway carries on after the last batch that committed', async () => {
    await server.createDatabase('resumed');
    const scratch = await tempRepository();
    const ctx = await openLocalContext(scratch, { create: true });
    ctx.credentials.register('resumed', server.url('resumed'));
    const session = await ctx.databases.connect({ credentials: 'resumed' }, { applicationName: 'test' });
    try {
      await createProgressTables(session, 'r1');
      const statements = (bad: boolean): DdlStatement[] =>
        Array.from({ length: 45 }, (_, i) => ({
          object: `table public.r${i}`,
          kind: 'table',
          sql: bad && i === 33 ? 'CREATE TABLE public.r33 (x nosuchtype)' : `CREATE TABLE public.r${i} ()`,
        }));
      const roles = rolesOnTarget(new Set(), []);
      await expect(applyPreData(session, statements(true), roles)).rejects.toThrow(
        'Restoring table public.r33 failed: type "nosuchtype" does not exist',
      );
      // Batches of 10 (max_locks_per_transaction): 30 committed, the fourth rolled back.
      const count = async () =>
        (await session.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_class WHERE relname ~ '^r[0-9]+$'`))[0]!
          .n;
      expect(await count()).toBe(30);
      expect(await applyPreData(session, statements(false), roles)).toBe(15);
      expect(await count()).toBe(45);
      expect(await applyPreData(session, statements(false), roles)).toBe(0);
    } finally {
      await session.close();
      await rm(dirname(scratch), { recursive: true, force: true });
    }
  });

  it('backs up and restores every table, verified', async () => {
    const started = Date.now();
    const { output } = await runBackup(repo, server.url('many'), { workers: 2 });
    const backupMs = Date.now() - started;
    const done = await runRestore(repo, output.backupId, server.url('many_restored'), { workers: 2, verify: true });
    console.log(`${TABLES} tables: backup ${backupMs} ms, restore ${Date.now() - started - backupMs} ms`);
    expect(done).toMatchObject({ verified: true, tables: TABLES, rows: 3 });
    const { rows } = await server.sql(
      `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`,
      'many_restored',
    );
    expect(rows).toEqual([{ n: TABLES }]);
  });
});
