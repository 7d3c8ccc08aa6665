// A disaster-recovery restore that cannot half-fail (issue 14, item 6), through the real ASL:
// the console input of docs/deploy.md verbatim, an input without options, a failure at each
// step recorded `failed` with a RestoreFailed event that says what the target holds, and a
// failed restore resumed without loading again what it had loaded. The one fake: a task is
// "killed" by throwing around its invocation (runStateMachine's aroundTask), at an instant no
// real fault can be timed to.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { ExecutionFailedError, runStateMachine, type PublishedEvent } from '#local/state-machine-runner.ts';
import { newRunId } from '#core/ids.ts';
import type { ProgressEvent } from '#core/task-context.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tableContents } from '../support/database-state.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl } from '#adapters/postgres/connector.ts';

let server: PostgresServer;
let ctx: LocalContext;
let loads: ProgressEvent[] = [];
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tidemark/orders-backup-Ab12Cd';

beforeAll(async () => {
  server = await startPostgres({ major: 15 });
  await server.createDatabase('orders');
  await server.sql(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers, note text);
     CREATE INDEX orders_customer ON orders (customer);
     INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 3000) g;
     INSERT INTO orders (customer, note) SELECT 1 + g % 3000, md5(g::text) FROM generate_series(1, 40000) g;`,
    'orders',
  );
  const repo = await mkdtemp(join(tmpdir(), 'tidemark-restore-machine-'));
  ctx = await openLocalContext(repo, {
    create: true,
    progress: (e) => e.phase === 'load' && (e.bytes ?? 0) > 0 && loads.push(e),
  });
  ctx.credentials.register('source', server.url('orders'));
  // The console names the target by its secret; locally that name resolves to the server.
  ctx.credentials.register(SECRET, server.url('postgres'));
  await runStateMachine(
    'backup',
    {
      source: { credentials: 'source' },
      options: { workers: 2, snapshotHoldSeconds: 600, plan: { chunkBytes: 64 << 10, rangeBytes: 256 << 10 } },
    },
    ctx,
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function restore(input: unknown, kill?: { fn: string; after?: boolean }) {
  const events: PublishedEvent[] = [];
  const executionName = newRunId();
  let killed = false;
  const run = runStateMachine('restore', input, ctx, {
    executionName,
    onEvent: (e) => events.push(e),
    aroundTask: async (fn, invoke) => {
      if (kill && fn === kill.fn && !killed) {
        killed = true;
        if (kill.after) await invoke();
        const error = new Error(`${fn} was killed`);
        error.name = 'TaskKilled';
        throw error;
      }
      return invoke();
    },
  });
  return { run, events, restoreId: executionName };
}

describe('the restore state machine', () => {
  it('runs the console input of docs/deploy.md verbatim', async () => {
    const doc = await readFile(new URL('../../docs/deploy.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Disaster recovery'));
    const input = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]!);
    expect(input.target.credentials).toBe(SECRET);
    const { run, events } = await restore(input);
    const output = await run;
    expect(output).toMatchObject({ verified: true, target: expect.stringContaining(`/${input.target.database}`) });
    expect(events.map((e) => e.detailType)).toEqual(['RestoreCompleted']);
    expect(await tableContents(server, input.target.database)).toEqual(await tableContents(server, 'orders'));
  });

  it('an input without options restores with the defaults (4 workers, verified)', async () => {
    const { run } = await restore({ backup: 'latest', target: { credentials: SECRET, database: 'no_options' } });
    expect(await run).toMatchObject({ verified: true });
  });

  it('a malformed input fails in Resolve with what is wrong, recorded failed, with a RestoreFailed event', async () => {
    const { run, events, restoreId } = await restore({
      backup: 'latest',
      target: { credentials: SECRET, database: 'bad_input' },
      options: { workers: 'four' },
    });
    await expect(run).rejects.toThrow(/options\.workers/);
    expect((await ctx.catalog.getRestore(restoreId))?.state).toBe('failed');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      detailType: 'RestoreFailed',
      detail: { restoreId, errorType: 'UsageError', recorded: true, targetDatabase: 'absent' },
    });
  });

  /** Chunks a clean restore loads, by unit name. */
  let cleanLoads: string[];
  const loadedUnits = () => loads.map((e) => e.unitDone!).filter(Boolean);

  for (const [fn, holds, after] of [
    ['RestoreResolve', 'absent', true],
    ['RestorePrepare', 'partial', true],
    ['RestoreLoadBatch', 'partial', true],
    ['RestoreFinish', 'partial', true],
    ['RestoreVerifyBatch', 'partial', true],
    // Killed after Complete, the restore has committed: nothing to resume.
    ['RestoreComplete', 'partial', false],
  ] as const) {
    it(`killed ${after ? 'after' : 'before'} ${fn}: recorded failed, the target said ${holds}; resumed, it completes verified without loading a chunk twice`, async () => {
      if (!cleanLoads) {
        loads = [];
        await (
          await restore({
            backup: 'latest',
            target: { credentials: SECRET, database: 'clean_count' },
            options: { workers: 2 },
          })
        ).run;
        cleanLoads = loadedUnits();
        expect(cleanLoads.length).toBeGreaterThan(2);
      }
      const target = { credentials: SECRET, database: `killed_${fn.toLowerCase()}` };
      loads = [];
      const { run, events, restoreId } = await restore(
        { backup: 'latest', target, options: { workers: 2 } },
        { fn, after },
      );
      await expect(run).rejects.toThrow(ExecutionFailedError);
      const before = loadedUnits();
      const record = await ctx.catalog.getRestore(restoreId);
      expect(record).toMatchObject({ state: 'failed', error: expect.stringContaining(`${fn} was killed`) });
      expect(events.map((e) => e.detailType)).toEqual(['RestoreFailed']);
      expect(events[0]!.detail).toMatchObject({
        restoreId,
        errorType: 'TaskKilled',
        recorded: true,
        targetDatabase: holds,
        executionArn: expect.stringContaining(restoreId),
      });

      loads = [];
      const resumed = await restore({ resume: restoreId, target, options: { workers: 2 } });
      expect(await resumed.run).toMatchObject({ verified: true });
      const again = loadedUnits();
      expect(again.filter((u) => before.includes(u))).toEqual([]);
      expect([...before, ...again].sort()).toEqual([...cleanLoads].sort());
      expect(await tableContents(server, target.database)).toEqual(await tableContents(server, 'orders'));
    });
  }

  it('a restore killed after its loads is resumed without loading anything again, and is verified', async () => {
    const target = { credentials: SECRET, database: 'resumed' };
    const first = await restore({ backup: 'latest', target, options: { workers: 2 } }, { fn: 'RestoreFinish' });
    loads = [];
    await expect(first.run).rejects.toThrow(ExecutionFailedError);
    const loadedBefore = loads.length;
    expect(loadedBefore).toBeGreaterThan(0);
    expect(first.events[0]!.detail).toMatchObject({
      targetDatabase: 'partial',
      next: expect.stringContaining(`--resume ${first.restoreId}`),
    });

    loads = [];
    const second = await restore({ resume: first.restoreId, target, options: { workers: 2 } });
    expect(await second.run).toMatchObject({ verified: true });
    expect(loads).toEqual([]);
    expect(await tableContents(server, 'resumed')).toEqual(await tableContents(server, 'orders'));
    expect((await ctx.catalog.getRestore(second.restoreId))?.state).toBe('committed');
    expect((await ctx.catalog.getRestore(first.restoreId))?.state).toBe('failed');
  });

  it('refuses to resume a restore that did not fail, or into a database that does not hold it', async () => {
    const done = await restore({ backup: 'latest', target: { credentials: SECRET, database: 'done_once' } });
    await done.run;
    await expect(
      (await restore({ resume: done.restoreId, target: { credentials: SECRET, database: 'done_once' } })).run,
    ).rejects.toThrow(/only a failed restore can be resumed/);
    const failed = await restore(
      { backup: 'latest', target: { credentials: SECRET, database: 'failed_once' } },
      { fn: 'RestoreFinish' },
    );
    await expect(failed.run).rejects.toThrow(ExecutionFailedError);
    await expect(
      (await restore({ resume: failed.restoreId, target: { credentials: SECRET, database: 'done_once' } })).run,
    ).rejects.toThrow(/not empty/);
  });
});

describe('the backup state machine, started by hand', () => {
  it('commits from an input that names only its source (default workers, window and plan)', async () => {
    const output = await runStateMachine('backup', { source: { credentials: 'source' } }, ctx);
    expect((await ctx.catalog.getBackup(output.backupId))?.state).toBe('committed');
  });

  it("publishes BackupCommitted with its collection (each collection's staleness metric counts these)", async () => {
    await createCollection(ctx, {
      name: 'hourly',
      source: 'source',
      sourceDescription: describeUrl(server.url('orders')),
      retention: { keepLast: 3 },
    });
    const events: PublishedEvent[] = [];
    const output = await runStateMachine('backup', { source: { credentials: 'source' }, collection: 'hourly' }, ctx, {
      onEvent: (e) => events.push(e),
    });
    expect(events).toEqual([
      {
        detailType: 'BackupCommitted',
        detail: expect.objectContaining({
          backupId: output.backupId,
          collection: 'hourly',
          source: expect.stringContaining('/orders'),
        }),
      },
    ]);
  });

  it('refuses options.workers out of bounds in its first step, with a BackupFailed event', async () => {
    const events: PublishedEvent[] = [];
    await expect(
      runStateMachine('backup', { source: { credentials: 'source' }, options: { workers: 0 } }, ctx, {
        onEvent: (e) => events.push(e),
      }),
    ).rejects.toThrow(/options.workers must be a whole number from 1 to 40/);
    expect(events.map((e) => e.detailType)).toEqual(['BackupFailed']);
  });

  it('publishes BackupFailed with the collection, the source, the execution and the error type', async () => {
    ctx.credentials.register('down', 'postgres://u:secret-pw@127.0.0.1:9/shop');
    const events: PublishedEvent[] = [];
    const executionName = newRunId();
    await expect(
      runStateMachine('backup', { source: { credentials: 'down' }, collection: 'nightly' }, ctx, {
        executionName,
        onEvent: (e) => events.push(e),
      }),
    ).rejects.toThrow(/Collection nightly does not exist/);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      detailType: 'BackupFailed',
      detail: {
        backupId: null,
        collection: 'nightly',
        source: '127.0.0.1:9/shop',
        executionArn: expect.stringContaining(executionName),
        errorType: 'CollectionNotFoundError',
      },
    });
    expect(JSON.stringify(events)).not.toContain('secret-pw');
  });
});
