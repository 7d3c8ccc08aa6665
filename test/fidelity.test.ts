// Acceptance "Fidelity": a database with every supported object kind and awkward values
// round-trips through backup and restore. Oracles: pg_dump --schema-only of source and restored
// database are identical (owners and privileges included), every table's rows are identical as
// multisets, and sequences hold the same state. PostgreSQL 15, because pg_dump here is 15.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startPostgres, type PostgresServer } from './support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from './support/pipeline.ts';
import { describeResult, runCli } from './support/cli.ts';
import { openLocalContext } from '#local/local-context.ts';
import { itRestoresIdentically, loadFidelityFixture, tableContents } from './support/database-state.ts';


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
    const { output } = await runBackup(repo, server.url('fidelity_source'), { chunkBytes: 256 * 1024, rangeBytes: 256 * 1024, workers: 3 });
    backupId = output.backupId;
    await runRestore(repo, backupId, server.url('fidelity_restored'), { workers: 3 });
  });

  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  itRestoresIdentically(() => server, 'fidelity_source', 'fidelity_restored');

  it('a second restore of "latest" into another database matches too', async () => {
    const states: string[] = [];
    const done = await runRestore(repo, 'latest', server.url('fidelity_restored_2'), { workers: 2, verify: true, onState: (e) => states.push(e.state ?? '') });
    expect(done).toMatchObject({ backupId, verified: true });
    expect(states).toContain('VerifyBatch');
    expect(await tableContents(server, 'fidelity_restored_2')).toEqual(await tableContents(server, 'fidelity_source'));
  });

  it('restore --no-verify skips the read-back, says so in its result and record, and still restores every row', async () => {
    const result = await runCli(['restore', backupId, '--repo', repo, '--target', server.url('fidelity_unverified'), '--no-verify', '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toMatchObject({ ok: true, backupId, verified: false });
    expect(result.json.warnings[0]).toMatch(/verification was skipped/);
    const ctx = await openLocalContext(repo, { create: false });
    const record = await ctx.catalog.getRestore(result.json.restoreId);
    expect(record).toMatchObject({ state: 'committed' });
    expect(record?.warnings?.[0]).toMatch(/verification was skipped/);
    expect(await tableContents(server, 'fidelity_unverified')).toEqual(await tableContents(server, 'fidelity_source'));
  });

  it('onto another server without the owning and granted roles, into an existing empty database: owners and grants are skipped, each named in a warning, and every row restores', async () => {
    const other = await startPostgres({ major: 15 });
    try {
      await other.createDatabase('landing');
      expect((await other.sql(`SELECT count(*)::int AS n FROM pg_roles WHERE rolname IN ('tidemark_owner', 'tidemark_reader')`)).rows[0].n).toBe(0);
      const result = await runCli(['restore', backupId, '--repo', repo, '--target', other.url('landing'), '--json']);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.json).toMatchObject({ ok: true, backupId, verified: true });
      const warnings: string[] = result.json.warnings;
      expect(warnings.some((w) => /^skipped owner statement for schema app: role "tidemark_owner" does not exist on the target$/.test(w)), warnings.join('\n')).toBe(true);
      expect(warnings.some((w) => /: role "tidemark_reader" does not exist on the target$/.test(w)), warnings.join('\n')).toBe(true);
      expect(warnings.every((w) => / does not exist on the target$/.test(w)), warnings.join('\n')).toBe(true);
      expect(await tableContents(other, 'landing')).toEqual(await tableContents(server, 'fidelity_source'));
      // What the roles owned belongs to the restoring user instead.
      const { rows } = await other.sql(`SELECT DISTINCT pg_catalog.pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'app'`, 'landing');
      expect(rows).toEqual([{ owner: 'postgres' }]);
      // Privileges the source took from PUBLIC stay taken; a grant to PUBLIC made by a role the
      // target lacks (tidemark_reader, on e.granted) is not replayed.
      await other.sql('CREATE ROLE someone NOLOGIN');
      const privileges = `SELECT pg_catalog.has_function_privilege('someone', 'app."Quoted Fn"(text, text[])', 'EXECUTE') AS quoted_fn,
                                 pg_catalog.has_type_privilege('someone', 'app.mood', 'USAGE') AS mood,
                                 pg_catalog.has_table_privilege('someone', 'e.granted', 'SELECT') AS granted`;
      expect((await other.sql(privileges, 'landing')).rows).toEqual([{ quoted_fn: false, mood: false, granted: false }]);
    } finally {
      await other.stop();
    }
  });
});
