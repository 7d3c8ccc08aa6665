// Acceptance "Fidelity": a database with every supported object kind and awkward values
// round-trips through backup and restore. Oracles: pg_dump --schema-only of source and restored
// database are identical (owners and privileges included), every table's rows are identical as
// multisets, and sequences hold the same state. PostgreSQL 15, because pg_dump here is 15.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { openLocalContext } from '#local/local-context.ts';
import { itRestoresIdentically, loadFidelityFixture, tableContents } from '../support/database-state.ts';

describe('fidelity: backup → restore reproduces the database exactly', () => {
  let server: PostgresServer;
  let repo: string;
  let backupId: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('fidelity_source');
    await loadFidelityFixture(server, 'fidelity_source');
    repo = await tempRepository();
    // Small chunks and ranges so that tables span several chunks and export tasks.
    const { output } = await runBackup(repo, server.url('fidelity_source'), {
      chunkBytes: 256 * 1024,
      rangeBytes: 256 * 1024,
      workers: 3,
    });
    backupId = output.backupId;
    await runRestore(repo, backupId, server.url('fidelity_restored'), { workers: 3 });
  });

  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  itRestoresIdentically(() => server, 'fidelity_source', 'fidelity_restored');

  it('tables without columns (created so, or every column dropped) restore their exact row counts', async () => {
    const counts = `SELECT (SELECT count(*) FROM e.no_columns)::int AS no_columns, (SELECT count(*) FROM e.all_dropped)::int AS all_dropped`;
    expect((await server.sql(counts, 'fidelity_restored')).rows).toEqual([{ no_columns: 7, all_dropped: 4 }]);
  });

  it('a second restore of "latest" into another database matches too', async () => {
    const states: string[] = [];
    const done = await runRestore(repo, 'latest', server.url('fidelity_restored_2'), {
      workers: 2,
      verify: true,
      onState: (e) => states.push(e.state ?? ''),
    });
    expect(done).toMatchObject({ backupId, verified: true });
    expect(states).toContain('VerifyBatch');
    expect(await tableContents(server, 'fidelity_restored_2')).toEqual(await tableContents(server, 'fidelity_source'));
  });

  it('restore --no-verify skips the read-back, says so in its result and record, and still restores every row', async () => {
    const result = await runCli([
      'restore',
      backupId,
      '--repo',
      repo,
      '--target',
      server.url('fidelity_unverified'),
      '--no-verify',
      '--json',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toMatchObject({ ok: true, backupId, verified: false });
    expect(result.json.warnings[0]).toMatch(/verification was skipped/);
    const ctx = await openLocalContext(repo, { create: false });
    const record = await ctx.catalog.getRestore(result.json.restoreId);
    expect(record).toMatchObject({ state: 'committed' });
    expect(record?.warnings?.[0]).toMatch(/verification was skipped/);
    expect(await tableContents(server, 'fidelity_unverified')).toEqual(await tableContents(server, 'fidelity_source'));
  });

  it('onto another server that lacks the owning role, into an existing empty database: owners, and grants that need them, are skipped with a warning each; nothing gains a privilege; every row restores', async () => {
    const other = await startPostgres({ major: 15 });
    try {
      await other.createDatabase('landing');
      await other.sql('CREATE ROLE tidemark_reader NOLOGIN; CREATE ROLE someone NOLOGIN');
      const result = await runCli(['restore', backupId, '--repo', repo, '--target', other.url('landing'), '--json']);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.json).toMatchObject({ ok: true, backupId, verified: true });
      const warnings: string[] = result.json.warnings;
      const all = warnings.join('\n');
      expect(warnings).toContain(
        'skipped owner statement for schema app: role "tidemark_owner" does not exist on the target',
      );
      expect(all).toMatch(
        /^skipped owner statement for function app\.owner_only\(\): role "tidemark_owner" does not exist on the target; it is SECURITY DEFINER .* EXECUTE was revoked from PUBLIC/m,
      );
      expect(all).toMatch(
        /^skipped acl statement for view app\.customer_names: role "tidemark_owner" does not exist on the target$/m,
      );
      expect(all).toMatch(
        /^policy invoice_owner on app\.invoice is RESTRICTIVE and role "tidemark_owner" does not exist on the target: it now restricts PUBLIC$/m,
      );
      expect(all, 'no warning about the role that exists').not.toContain('tidemark_reader');
      expect(
        warnings.every((w) => w.includes(' does not exist on the target')),
        all,
      ).toBe(true);
      expect(await tableContents(other, 'landing')).toEqual(await tableContents(server, 'fidelity_source'));
      // What the missing role owned belongs to the restoring user instead.
      const { rows } = await other.sql(
        `SELECT pg_catalog.pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'app'`,
        'landing',
      );
      expect(rows).toEqual([{ owner: 'postgres' }]);
      // Nobody gains a privilege: revokes from PUBLIC ran; the SECURITY DEFINER function, which
      // would now run as the restoring user, is not executable by PUBLIC; a grant on a view
      // (read with its owner's rights) is not given by the restoring user. Grants whose owner
      // exists apply, and so does the policy for the role that exists; the restrictive policy for
      // the missing role restricts everyone.
      const privileges = `SELECT pg_catalog.has_function_privilege('someone', 'app."Quoted Fn"(text, text[])', 'EXECUTE') AS quoted_fn_public,
                                 pg_catalog.has_function_privilege('tidemark_reader', 'app."Quoted Fn"(text, text[])', 'EXECUTE') AS quoted_fn_reader,
                                 pg_catalog.has_function_privilege('someone', 'app.owner_only()', 'EXECUTE') AS owner_only_public,
                                 pg_catalog.has_type_privilege('someone', 'app.mood', 'USAGE') AS mood_public,
                                 pg_catalog.has_table_privilege('tidemark_reader', 'app.customer_names', 'SELECT') AS view_reader,
                                 (SELECT pg_catalog.string_agg(polname, ',' ORDER BY polname) FROM pg_catalog.pg_policy WHERE polrelid = 'app.invoice'::regclass) AS policies`;
      expect((await other.sql(privileges, 'landing')).rows).toEqual([
        {
          quoted_fn_public: false,
          quoted_fn_reader: true,
          owner_only_public: false,
          mood_public: false,
          view_reader: false,
          policies: 'invoice_all,invoice_owner,invoice_reader',
        },
      ]);
      // On the source, with its owner, the function is PUBLIC's to run: the guard is only for the target.
      expect(
        (
          await server.sql(
            `SELECT pg_catalog.has_function_privilege('tidemark_reader', 'app.owner_only()', 'EXECUTE') AS x`,
            'fidelity_source',
          )
        ).rows,
      ).toEqual([{ x: true }]);
    } finally {
      await other.stop();
    }
  });
});
