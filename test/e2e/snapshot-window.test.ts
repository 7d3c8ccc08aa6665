// The export window is bounded (in AWS by the 15-minute Lambda limit): an export that outlives
// the snapshot holder fails clearly and leaves no committed backup. A lock held by another
// session stalls the export deterministically past a 1-second window.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';
import type { PublishedEvent } from '#local/state-machine-runner.ts';

describe('snapshot window', () => {
  let server: PostgresServer;
  let repo: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('window');
    await server.sql(
      `CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 1000) i;`,
      'window',
    );
    repo = await tempRepository();
  });

  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('an export that outlives the window fails with SnapshotExpiredError and commits nothing', async () => {
    const blocker = new pg.Client({ connectionString: server.url('window') });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    let failure: any;
    const events: PublishedEvent[] = [];
    try {
      await runBackup(repo, server.url('window'), { holdSeconds: 1, workers: 1, onEvent: (e) => events.push(e) });
    } catch (err) {
      failure = err;
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(failure?.errorName).toBe('SnapshotExpiredError');
    expect(failure?.message).toMatch(/did not finish within the snapshot window of 1 s/);
    const ctx = await openLocalContext(repo, { create: false });
    const backups = await ctx.catalog.listBackups();
    expect(backups).toHaveLength(1);
    expect(backups[0]!.state).toBe('failed');
    expect(backups[0]!.error).toMatch(/snapshot window/);
    // The failure is published for alarms and subscribers.
    expect(events.map((e) => e.detailType)).toEqual(['BackupFailed']);
    expect(events[0]!.detail).toMatchObject({
      backupId: backups[0]!.backupId,
      error: expect.stringMatching(/snapshot window/),
    });
  });

  it('the next backup, with the lock gone, commits', async () => {
    const events: PublishedEvent[] = [];
    const { output } = await runBackup(repo, server.url('window'), { holdSeconds: 60, onEvent: (e) => events.push(e) });
    expect(output.rows).toBe(1000);
    expect(events).toEqual([
      { detailType: 'BackupCommitted', detail: expect.objectContaining({ backupId: output.backupId, rows: 1000 }) },
    ]);
    const ctx = await openLocalContext(repo, { create: false });
    expect((await ctx.catalog.getBackup(output.backupId))?.state).toBe('committed');
  });
});
