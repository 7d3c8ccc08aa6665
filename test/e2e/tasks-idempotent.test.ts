// Idempotent, retryable tasks (DESIGN.md invariant 5): every task function may run twice, or
// twice at once, or die halfway and run again, without duplicating data. The tasks are called
// directly here, the way a Step Functions retry would call them.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { startBackup } from '#core/backup/start.ts';
import {
  awaitSnapshot,
  holdSnapshot,
  releaseSnapshot,
  SnapshotNotReadyError,
  type SnapshotPoint,
} from '#core/backup/hold-snapshot.ts';
import { planBackup, readPlanHeader } from '#core/backup/plan.ts';
import { exportBatch, RESULT_FORMAT } from '#core/backup/export.ts';
import { commitBackup } from '#core/backup/commit.ts';
import { resolveRestore } from '#core/restore/resolve.ts';
import { newRunId } from '#core/ids.ts';
import { prepareTarget } from '#core/restore/prepare.ts';
import { loadBatch } from '#core/restore/load.ts';
import { finishRestore } from '#core/restore/finish.ts';
import { verifyBatch } from '#core/restore/verify.ts';
import { completeRestore } from '#core/restore/complete.ts';
import { layout } from '#core/repository/layout.ts';
import { cachedManifest } from '#core/repository/manifest-cache.ts';
import { openDocument } from '#core/repository/sealed-document.ts';
import type { ExportBatchResult } from '#core/backup/plan-model.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { compareDatabases } from '../support/compare.ts';

let pg: PostgresServer;
let scratch: string;
let ctx: LocalContext;
const source = { credentials: 'source' };
const target = { credentials: 'target' };

beforeAll(async () => {
  [pg, scratch] = await Promise.all([startPostgres({ major: 15 }), mkdtemp(join(tmpdir(), 'tidemark-idempotent-'))]);
  await pg.createDatabase('store');
  await pg.sql(
    `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(8,2));
     CREATE TABLE notes (item_id int REFERENCES items, body text);
     INSERT INTO items SELECT g, 'item ' || md5(g::text), g % 1000 / 10.0 FROM generate_series(1, 60000) g;
     INSERT INTO notes SELECT 1 + g % 60000, repeat('n', g % 50) FROM generate_series(1, 20000) g;`,
    'store',
  );
  ctx = await openLocalContext(join(scratch, 'repo'), { create: true });
  ctx.credentials.register('source', pg.url('store'));
  ctx.credentials.register('target', pg.url('store_restored'));
});

afterAll(async () => {
  await pg?.stop();
  await rm(scratch, { recursive: true, force: true });
});

async function chunkFiles(): Promise<string[]> {
  const entries = await readdir(join(scratch, 'repo', 'chunks'), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

async function exportResult(backupId: string, batch: number): Promise<ExportBatchResult> {
  const key = layout.exportResult(backupId, batch);
  return openDocument(RESULT_FORMAT, await ctx.storage.get(key), key) as ExportBatchResult;
}

describe('task functions run twice', () => {
  let backupId: string;
  /** What the concurrent attempts of each load batch reported. */
  const reportedLoads: Array<{ chunks: number; rows: number }> = [];
  let crashRerun:
    | { first: ExportBatchResult[]; rerun: ExportBatchResult[]; chunksBefore: string[]; chunksAfter: string[] }
    | undefined;

  it('backup: start, plan, export and commit repeat without duplicating anything', async () => {
    const started = await startBackup({ source }, ctx);
    backupId = started.backupId;
    expect(await startBackup({ source, backupId }, ctx)).toEqual(started);

    const holding = holdSnapshot({ backupId, source, holdSeconds: 120 }, ctx);
    holding.catch(() => undefined);
    let snapshot: SnapshotPoint | undefined;
    for (let i = 0; !snapshot && i < 200; i++) {
      try {
        snapshot = await awaitSnapshot({ backupId }, ctx);
      } catch (err) {
        if (!(err instanceof SnapshotNotReadyError)) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(snapshot).toBeDefined();
    expect(await awaitSnapshot({ backupId }, ctx)).toEqual(snapshot);

    // Writes after the snapshot must not reach the backup, however often a task reruns.
    await pg.sql(`INSERT INTO items VALUES (60001, 'after the snapshot', 1)`, 'store');

    const options = { chunkBytes: 32 * 1024, rangeBytes: 256 * 1024, batchBytes: 512 * 1024 };
    const plan = await planBackup({ backupId, source, snapshot: snapshot!, options }, ctx);
    expect(plan.batches.length).toBeGreaterThanOrEqual(3);
    expect(await planBackup({ backupId, source, snapshot: snapshot!, options }, ctx)).toEqual(plan);

    const run = (batch: number) => exportBatch({ backupId, source, snapshotId: snapshot!.snapshotId, batch }, ctx);
    const results = () => Promise.all(plan.batches.map((batch) => exportResult(backupId, batch)));
    const firstOutputs = [];
    for (const batch of plan.batches) firstOutputs.push(await run(batch));
    const first = await results();
    const chunksAfterFirst = await chunkFiles();
    expect(first.flatMap((r) => r.tasks).reduce((s, t) => s + t.bytesWritten, 0)).toBeGreaterThan(0);

    // Every batch "dies" after its chunks were written but before its result was recorded, and runs again.
    for (const batch of plan.batches) await ctx.storage.delete(layout.exportResult(backupId, batch));
    const rerunOutputs = [];
    for (const batch of plan.batches) rerunOutputs.push(await run(batch));
    expect(rerunOutputs.map((o) => o.rows)).toEqual(firstOutputs.map((o) => o.rows));
    const rerun = await results();
    const summary = (r: ExportBatchResult[]) =>
      r.flatMap((b) => b.tasks.map((t) => [b.batch, t.table, t.range, t.rows, t.bytesRead, t.checksum]));
    expect(summary(rerun)).toEqual(summary(first));
    crashRerun = { first, rerun, chunksBefore: chunksAfterFirst, chunksAfter: await chunkFiles() };

    // A plain retry returns the recorded result.
    expect(await run(0)).toEqual(rerunOutputs[0]);
    // A retry racing a slow first attempt: both agree on the rows.
    await ctx.storage.delete(layout.exportResult(backupId, 1));
    const [a, b] = await Promise.all([run(1), run(1)]);
    expect(a.rows).toBe(b.rows);

    await releaseSnapshot({ backupId }, ctx);
    await releaseSnapshot({ backupId }, ctx);
    await holding;

    // Commit dies between its two writes: the manifest is written, the catalog transition is not.
    // (The one fake here: a catalog whose commit throws, for a process killed at an instant no
    // test can time.) The backup must not look committed, and the retry must commit it.
    const dying = {
      ...ctx,
      catalog: Object.assign(Object.create(ctx.catalog), {
        finishBackup: async () => {
          throw new Error('killed before the catalog commit');
        },
      }),
    };
    await expect(commitBackup({ backupId, startedAt: started.startedAt }, dying)).rejects.toThrow(
      'killed before the catalog commit',
    );
    expect(await ctx.storage.head(layout.manifest(backupId))).toBeDefined();
    expect((await ctx.catalog.getBackup(backupId))?.state).toBe('running');
    expect((await ctx.catalog.listBackups()).filter((b) => b.state === 'committed')).toEqual([]);
    await expect(
      resolveRestore({ input: { backup: 'latest', target }, executionName: 'r-latest' }, ctx),
    ).rejects.toThrow(/no committed backup/);
    await expect(
      resolveRestore({ input: { backup: backupId, target }, executionName: 'r-running' }, ctx),
    ).rejects.toThrow(/is running, not committed/);

    const committed = await commitBackup({ backupId, startedAt: started.startedAt }, ctx);
    expect(committed.rows).toBe(80000);
    expect(await commitBackup({ backupId, startedAt: started.startedAt }, ctx)).toEqual(committed);
    expect((await ctx.catalog.getBackup(backupId))?.state).toBe('committed');
    expect((await readPlanHeader(ctx, backupId)).taskCount).toBe(plan.tasks);
  });

  it('an export batch rerun after a crash writes no new chunks (chunk boundaries do not depend on network reads)', () => {
    expect(crashRerun).toBeDefined();
    const { first, rerun, chunksBefore, chunksAfter } = crashRerun!;
    const cuts = (r: ExportBatchResult[]) =>
      r.flatMap((b) => b.tasks.map((t) => t.chunks.map((c) => c.rows).join(',')));
    const [before, after] = [cuts(first), cuts(rerun)];
    const differing = before.filter((c, i) => c !== after[i]).length;
    const example = before.findIndex((c, i) => c !== after[i]);
    expect(
      differing,
      `${differing} of ${before.length} export tasks cut their rows into different chunks on the rerun ` +
        `(e.g. rows per chunk ${before[example]} then ${after[example]}); ${chunksAfter.length - chunksBefore.length} new chunk files`,
    ).toBe(0);
    expect(rerun.flatMap((b) => b.tasks).reduce((s, t) => s + t.bytesWritten, 0)).toBe(0);
    expect(chunksAfter).toEqual(chunksBefore);
  });

  it('restore: prepare, load, finish, verify and complete repeat without loading anything twice', async () => {
    expect(backupId).toBeDefined();
    const resolved = await resolveRestore({ input: { backup: backupId, target }, executionName: newRunId() }, ctx);
    expect(
      await resolveRestore({ input: { backup: backupId, target }, executionName: resolved.restoreId }, ctx),
    ).toEqual(resolved);
    const { restoreId } = resolved;
    const input = { restoreId, backupId, target };

    const prepared = await prepareTarget(input, ctx);
    expect(prepared.created).toBe(true);
    expect(await prepareTarget(input, ctx)).toEqual({ ...prepared, created: false });

    for (const batch of resolved.loadBatches) {
      // The same batch twice at once, then once more: each chunk is loaded exactly once.
      const attempts = await Promise.all([loadBatch({ ...input, batch }, ctx), loadBatch({ ...input, batch }, ctx)]);
      reportedLoads.push(...attempts);
      const again = await loadBatch({ ...input, batch }, ctx);
      expect(again.chunks).toBe(0);
    }
    // Counted before post-data: no primary key yet, so a duplicate would show here.
    const { rows: loaded } = await pg.sql(
      `SELECT (SELECT count(*)::int FROM items) AS items, (SELECT count(*)::int FROM notes) AS notes`,
      'store_restored',
    );
    expect(loaded[0]).toEqual({ items: 60000, notes: 20000 });
    // `notes` (a quarter of the data) loaded whole with COPY FREEZE: every page all-frozen;
    // `items` (more than half) loaded chunk by chunk in parallel transactions.
    const { rows: steps } = await pg.sql(
      `SELECT step FROM _tidemark_restore.done WHERE step ~ '^(table|chunk):' ORDER BY step`,
      'store_restored',
    );
    const manifestTables = (await cachedManifest(ctx.storage, backupId!)).tables.map((t) => t.name);
    const stepTables = (kind: string) => [
      ...new Set(steps.filter((r) => r.step.startsWith(kind)).map((r) => manifestTables[Number(r.step.split(':')[1])])),
    ];
    expect(stepTables('table:')).toEqual(['notes']);
    expect(stepTables('chunk:')).toEqual(['items']);
    await pg.sql('CREATE EXTENSION pg_visibility', 'store_restored');
    const { rows: vm } = await pg.sql(
      `SELECT (pg_relation_size('notes') / 8192)::int AS pages, (SELECT all_frozen::int FROM pg_visibility_map_summary('notes')) AS frozen,
              (SELECT all_frozen::int FROM pg_visibility_map_summary('items')) AS items_frozen`,
      'store_restored',
    );
    await pg.sql('DROP EXTENSION pg_visibility', 'store_restored');
    expect(vm[0].pages).toBeGreaterThan(10);
    expect(vm[0]).toMatchObject({ frozen: vm[0].pages, items_frozen: 0 });

    await finishRestore(input, ctx);
    await finishRestore(input, ctx);
    for (const batch of resolved.verifyBatches) {
      await verifyBatch({ ...input, batch }, ctx);
      await verifyBatch({ ...input, batch }, ctx);
    }
    const done = await completeRestore({ ...input, verified: true }, ctx);
    expect(await completeRestore({ ...input, verified: true }, ctx)).toEqual(done);
    expect(done).toMatchObject({ verified: true });
    expect((await ctx.catalog.getRestore(restoreId))?.state).toBe('committed');

    // The target equals the source as of the snapshot: everything but the later row.
    await pg.sql(`DELETE FROM items WHERE id = 60001`, 'store');
    expect((await compareDatabases(pg.url('store'), pg.url('store_restored'))).differences).toEqual([]);
    const { rows: schemas } = await pg.sql(
      `SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = '_tidemark_restore'`,
      'store_restored',
    );
    expect(schemas[0].n).toBe(0);
  });

  it('concurrent attempts of one load batch report each chunk once (progress and results do not double-count)', () => {
    expect(reportedLoads.length).toBeGreaterThan(0);
    expect(reportedLoads.reduce((sum, r) => sum + r.rows, 0)).toBe(80000);
  });
});
