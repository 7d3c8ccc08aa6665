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
});
