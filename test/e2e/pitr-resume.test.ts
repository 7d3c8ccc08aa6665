// A restore to a point is resumable (issue 13): the local CLI runs the restore state machine with
// its replay, as AWS does, so the replay's position commits with each group of transactions in
// the target. A `restore --to` killed (SIGKILL, the built CLI) in the middle of a long replay is
// resumed with `restore --resume` (which marks it failed first, as gc would): the target equals a
// restore to the same point done in one go, row for row, and reports the same point and the same
// checks. A replay that fails its verification fails again when resumed, saying why: it never
// becomes done. One that failed before its replay is resumed to the point it was started for,
// whatever the archive holds by then.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { collect, describeResult } from '../support/cli.ts';
import { buildCliBundle, runAndKill, spawnBundledCli } from '../support/cli-bundle.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { openPitrSource, type PitrSource } from '../support/pitr-source.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { runStateMachine, type PublishedEvent } from '#local/state-machine-runner.ts';
import { restoreRunInput } from '#core/restore/run-input.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';

let server: PostgresServer;
let repo: string;
let src: PitrSource;
/** The commit of the third transaction after the backup: a short replay. */
let early: string;
const env = { PGPASSWORD: 'tidemark-test-password' };

beforeAll(async () => {
  buildCliBundle();
  [server, repo] = await Promise.all([
    startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] }),
    tempRepository(),
  ]);
  const url = await server.createDatabase('ledger');
  await server.sql(
    `CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, pad text);
     CREATE TABLE notes (k int, note text, tag text DEFAULT 'n'); ALTER TABLE notes REPLICA IDENTITY FULL;
     INSERT INTO items SELECT g, 0, 'base' FROM generate_series(1, 1000) g;
     INSERT INTO notes VALUES (0, 'opening')`,
    'ledger',
  );
  src = await openPitrSource(repo, url);
  await createCollection(src.ctx, {
    name: 'ledger',
    source: withoutPassword(url),
    sourceDescription: describeUrl(url),
    retention: {},
  });
  await enablePitr(src.session, src.stream, src.ctx.storage, 'ledger');
  await runBackup(repo, url, { collection: 'ledger', workers: 2 });
  for (let i = 0; i < 3; i++) {
    const { rows } = await server.sql(
      `WITH a AS (INSERT INTO items VALUES (${2000 + i}, ${i}, 'early')), b AS (INSERT INTO notes VALUES (${i}, 'early ${i}'))
       SELECT txid_current()::text AS xid`,
      'ledger',
    );
    early = rows[0].xid;
  }
  // About 300,000 archived row changes in 390 transactions: some 15 groups of 20,000.
  for (let t = 0; t < 200; t++)
    await server.sql(
      `INSERT INTO items SELECT g, 0, repeat('p', 20) FROM generate_series(${10_000 + t * 1000}, ${10_999 + t * 1000}) g`,
      'ledger',
    );
  for (let t = 0; t < 150; t++)
    await server.sql(
      `UPDATE items SET n = n + 1 WHERE id BETWEEN ${10_000 + t * 500} AND ${10_499 + t * 500}; INSERT INTO notes VALUES (${t}, 'bulk')`,
      'ledger',
    );
  for (let t = 0; t < 40; t++)
    await server.sql(
      `DELETE FROM items WHERE id BETWEEN ${150_000 + t * 500} AND ${150_499 + t * 500}; DELETE FROM notes WHERE k = ${t} AND note = 'bulk'`,
      'ledger',
    );
  await archiveChanges(src.stream, src.ctx.storage, 'ledger');
}, 600_000);

afterAll(async () => {
  await src?.close();
  await server?.stop();
  if (repo) await rm(join(repo, '..'), { recursive: true, force: true });
});

/** The replay's committed progress in a target, or undefined before it has one. */
async function replayed(database: string): Promise<{ transactions: number; done: boolean } | undefined> {
  try {
    const { rows } = await server.sql('SELECT progress FROM _tidemark_restore.replay', database);
    return rows[0]?.progress;
  } catch {
    return undefined; // not created yet
  }
}

describe('a restore to a point killed during its replay', () => {
  it('is resumed with restore --resume: the target equals a restore to the same point in one go, which reports the same point', async () => {
    const killed = 'ledger_killed';
    const child = spawnBundledCli(
      ['restore', '--collection', 'ledger', '--to', 'latest', '--target', server.url(killed), '--repo', repo, '--json'],
      { env },
    );
    const run = collect(child, 300_000);
    let at: { transactions: number; done: boolean } | undefined;
    while (child.exitCode === null && child.signalCode === null) {
      at = await replayed(killed);
      if (at && at.transactions > 0 && !at.done) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const outcome = await run;
    expect(outcome.signal, `not killed during the replay: ${describeResult(outcome)}`).toBe('SIGKILL');
    const ctx = src.ctx;
    const [record] = await ctx.catalog.listRunningRestores();
    expect(record?.replay).toMatchObject({ collection: 'ledger', to: 'latest', verify: true });
    // The kill left whole groups: fewer transactions than the replay holds, each applied once.
    const left = await replayed(killed);
    expect(left!.transactions).toBeGreaterThanOrEqual(at!.transactions);
    expect(left!.done).toBe(false);

    // Resumed straight away: its process is gone, so the resume marks it failed first, as gc would.
    const resumed = await runAndKill(
      ['restore', '--resume', record!.restoreId, '--target', server.url(killed), '--repo', repo, '--json'],
      300_000,
      { env },
    );
    expect(resumed.code, describeResult(resumed)).toBe(0);
    expect(await ctx.catalog.getRestore(record!.restoreId)).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(/^Interrupted: its process \(pid \d+ on .+\) is gone/),
    });

    const whole = 'ledger_whole';
    const once = await runAndKill(
      ['restore', '--collection', 'ledger', '--to', 'latest', '--target', server.url(whole), '--repo', repo, '--json'],
      300_000,
      { env },
    );
    expect(once.code, describeResult(once)).toBe(0);
    // The report of a restore (its own id, target, seconds aside): the point and what replay did.
    const point = (r: Record<string, unknown>) => {
      const { backupId, reached, replay, verified, warnings, tables, rows } = r;
      return { backupId, reached, replay, verified, warnings, tables, rows };
    };
    const [reportResumed, reportOnce] = [point(resumed.json), point(once.json)] as const;
    // The same point, the same transactions and changes, and the same checks (counts and content
    // checksums are kept with the progress, so the resumed replay checked what one run checks).
    expect(reportResumed).toEqual(reportOnce);
    expect(once.json.replay.transactions).toBeGreaterThan(left!.transactions);
    // notes (COPY text, REPLICA IDENTITY FULL, inserts and deletes) is checked by content checksum
    // too: its sums came through the kill with the progress.
    expect(reportOnce.replay).toMatchObject({ countedTables: 2, checksummedTables: 1 });
    const expected = await tableContents((q) => server.sql(q, 'ledger'));
    expect(await tableContents((q) => server.sql(q, whole))).toEqual(expected);
    expect(await tableContents((q) => server.sql(q, killed))).toEqual(expected);
    expect((await ctx.catalog.getRestore(resumed.json.restoreId))?.state).toBe('committed');
  }, 600_000);
});

describe('a restore to a point that fails before its replay', () => {
  it('is resumed to the point it was started for, its base verified as a restore of the backup is', async () => {
    const ctx = src.ctx;
    const database = 'ledger_base_failed';
    ctx.credentials.register(database, server.url(database));
    const events: PublishedEvent[] = [];
    await expect(
      runStateMachine(
        'restore',
        restoreRunInput({ collection: 'ledger', to: `xid:${early}`, target: { credentials: database }, workers: 2 }),
        ctx,
        {
          onEvent: (e) => events.push(e),
          aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
            if (fn === 'RestoreFinish') throw new Error('Finish died (a fault of this test)');
            return run();
          },
        },
      ),
    ).rejects.toThrow(/Finish died/);
    const failed = events.find((e) => e.detailType === 'RestoreFailed')?.detail as { restoreId: string };
    expect(failed).toMatchObject({ targetDatabase: 'partial' });
    // The archive grows meanwhile: the resumed restore still goes to the point it was started for.
    await server.sql("INSERT INTO items VALUES (-2, 0, 'after the failure')", 'ledger');
    await archiveChanges(src.stream, src.ctx.storage, 'ledger');
    let verifiedTables = 0;
    const output: CompleteOutput = await runStateMachine(
      'restore',
      restoreRunInput({ resume: failed.restoreId, target: { credentials: database }, workers: 2 }),
      ctx,
      {
        aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
          const result = await run();
          if (fn === 'RestoreVerifyBatch') verifiedTables += (result as { tables: number }).tables;
          return result;
        },
      },
    );
    expect(output).toMatchObject({ verified: true, pointInTime: { reached: { xid: early }, transactions: 3 } });
    // No replay had begun: Verify read every table back.
    expect(verifiedTables).toBe(2);
    const { rows } = await server.sql(
      'SELECT (SELECT count(*)::int FROM items) AS items, (SELECT count(*)::int FROM notes) AS notes',
      database,
    );
    expect(rows[0]).toEqual({ items: 1003, notes: 4 });
  }, 180_000);
});

describe('a replay that fails its verification', () => {
  it('fails again when resumed, naming the table, and never becomes done', async () => {
    const ctx = src.ctx;
    const database = 'ledger_tampered';
    ctx.credentials.register(database, server.url(database));
    const events: PublishedEvent[] = [];
    let replays = 0;
    const input = restoreRunInput({
      collection: 'ledger',
      to: `xid:${early}`,
      target: { credentials: database },
      workers: 2,
      replaySeconds: 0,
    });
    await expect(
      runStateMachine('restore', input, ctx, {
        onEvent: (e) => events.push(e),
        aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
          // A row the archive knows nothing of, written into the target before its replay.
          if (fn === 'RestoreReplay' && ++replays === 1)
            await server.sql("INSERT INTO items VALUES (-1, 0, 'not archived')", database);
          return run();
        },
      }),
    ).rejects.toThrow(/After replay, table items holds 1004 rows where the backup and the archive say 1003/);
    // One transaction per invocation: the first two committed before the third failed its check.
    expect((await replayed(database))?.transactions).toBe(2);
    const failed = events.find((e) => e.detailType === 'RestoreFailed')?.detail as { restoreId: string };

    // Resumed with the CLI: the same check fails the same way, and says so.
    const again = await runAndKill(
      ['restore', '--resume', failed.restoreId, '--target', server.url(database), '--repo', repo, '--json'],
      120_000,
      { env },
    );
    expect(again.code, describeResult(again)).toBe(1);
    expect(again.json.error).toMatchObject({ type: 'VerificationError' });
    expect(again.json.error.message).toMatch(
      /After replay, table items holds 1004 rows where the backup and the archive say 1003 .* holds this restore's partial work/,
    );
    const [, resumedId] = /tidemark restore --resume ([\w.-]+)/.exec(again.json.error.message)!;
    expect(resumedId).not.toBe(failed.restoreId);
    expect(await ctx.catalog.getRestore(resumedId!)).toMatchObject({
      state: 'failed',
      error: expect.stringContaining('table items holds 1004 rows'),
    });
    // Still partial: the progress tables are there, the replay not done.
    expect(await replayed(database)).toMatchObject({ done: false, transactions: 2 });
  }, 300_000);
});
