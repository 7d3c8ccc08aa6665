// Collections, retention, garbage collection and catalog rebuild against a real repository of
// real backups (PostgreSQL 15, the backup state machine in-process, the CLI as a child process).
// The oracle for gc: afterwards every chunk in the repository is needed by a kept manifest, every
// chunk a kept manifest needs is there, and kept backups still verify and restore.
import { backupRunInput } from '#core/backup/run-input.ts';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, SUPERUSER_PASSWORD, type PostgresServer } from '../support/postgres-server.ts';
import { runRestore, tempRepository } from '../support/pipeline.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { compareDatabases } from '../support/compare.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import type { BackupCatalog, BackupRecord } from '#core/ports/catalog.ts';
import { manifestChunkRefs, readManifest } from '#core/repository/manifest.ts';
import { layout } from '#core/repository/layout.ts';
import { verifyBackup } from '#core/verify-backup.ts';
import { collectGarbage } from '#core/maintenance/gc.ts';
import { MAINTENANCE_LEASE } from '#core/maintenance/lease.ts';
import { writeTombstone } from '#core/maintenance/tombstone.ts';
import { newRunId, type ChunkId } from '#core/ids.ts';

let pg: PostgresServer;
let repo: string;
let ctx: LocalContext;
/** Oldest first: the four backups of collection `nightly` (keep-last 2). */
const backups: string[] = [];
/** Ids sorted as strings, the order gc reports them in (ids of one second sort by their random tail). */
const byId = (ids: string[]) => [...ids].sort();

/** Every file under `dir`, relative, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/**
 * A backup in collection `nightly`. How `backup --collection` records membership is the backup
 * pipeline's business; this stamps the catalog record the way StartBackup does, so the test
 * depends only on what maintenance reads (`BackupRecord.collection`).
 */
async function backupIntoCollection(): Promise<string> {
  const run = await openLocalContext(repo, { create: true });
  run.credentials.register('source', pg.url('shop'));
  const catalog: BackupCatalog = run.catalog;
  const stamped = Object.assign(Object.create(catalog) as BackupCatalog, {
    createBackup: (record: BackupRecord) =>
      catalog.createBackup({ ...record, collection: record.collection ?? 'nightly' }),
  });
  const input = backupRunInput({
    source: { credentials: 'source' },
    workers: 2,
    snapshotHoldSeconds: 600,
    plan: { chunkBytes: 16 * 1024, rangeBytes: 64 * 1024 * 1024 },
  });
  const output = await runStateMachine('backup', input, { ...run, catalog: stamped });
  return output.backupId;
}

/** Chunk keys in the repository, and those the kept (non-expired) manifests need. */
async function chunkInventory(): Promise<{ present: Set<string>; needed: Set<string>; keptManifests: string[] }> {
  const present = new Set((await filesUnder(join(repo, 'chunks'))).map((f) => `chunks/${f}`));
  const needed = new Set<string>();
  const keptManifests: string[] = [];
  for (const id of await readdir(join(repo, 'backups'))) {
    const files = await readdir(join(repo, 'backups', id));
    if (!files.includes('manifest.json') || files.includes('expired.json')) continue;
    keptManifests.push(id);
    for (const ref of manifestChunkRefs(await readManifest(ctx.storage, id)))
      needed.add(layout.chunk(ref.id as ChunkId));
  }
  return { present, needed, keptManifests: keptManifests.sort() };
}

/** A backup that is running and may still commit, as StartBackup records one (simulated: no process runs it). */
async function simulateRunningBackup(): Promise<string> {
  const backupId = newRunId();
  await ctx.catalog.createBackup({
    backupId,
    state: 'running',
    startedAt: new Date().toISOString(),
    source: 'simulated:5432/shop',
    deadline: new Date(Date.now() + 3_600_000).toISOString(),
  });
  return backupId;
}
const endSimulatedBackup = (backupId: string) =>
  ctx.catalog.finishBackup(backupId, {
    state: 'failed',
    finishedAt: new Date().toISOString(),
    error: 'simulated run ended',
  });

beforeAll(async () => {
  [pg, repo] = await Promise.all([startPostgres({ major: 15 }), tempRepository()]);
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigint PRIMARY KEY, product_id int REFERENCES products, note text);
     INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 3000) g;
     INSERT INTO orders SELECT g, 1 + g % 3000, repeat(md5(g::text), 3) FROM generate_series(1, 6000) g;`,
    'shop',
  );
  const created = await runCli([
    'collection',
    'create',
    'nightly',
    '--source',
    pg.url('shop'),
    '--keep-last',
    '2',
    '--repo',
    repo,
    '--json',
  ]);
  expect(created.code, describeResult(created)).toBe(0);
  ctx = await openLocalContext(repo, { create: false });
  // Each backup sees other orders: `products` chunks are shared by all four, `orders` chunks
  // partly differ, so expiring the oldest two frees chunks only they needed.
  for (let round = 0; round < 4; round++) {
    if (round > 0) await pg.sql(`UPDATE orders SET note = 'round ${round} ' || id WHERE id % 4 = ${round}`, 'shop');
    backups.push(await backupIntoCollection());
  }
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (repo) await rm(join(repo, '..'), { recursive: true, force: true });
});

describe('collections', () => {
  it('create stores the definition without the password; list and show describe it and its backups', async () => {
    const document = await readFile(join(repo, 'collections', 'nightly.json'), 'utf8');
    expect(document).not.toContain(SUPERUSER_PASSWORD);
    expect(document).toContain(`127.0.0.1:${pg.port}/shop`);
    const [list, show] = await Promise.all([
      runCli(['collection', 'list', '--repo', repo, '--json']),
      runCli(['collection', 'show', 'nightly', '--repo', repo, '--json']),
    ]);
    expect(list.code, describeResult(list)).toBe(0);
    expect(list.json).toEqual([
      expect.objectContaining({ name: 'nightly', retention: { keepLast: 2 }, committedBackups: 4 }),
    ]);
    expect(show.code, describeResult(show)).toBe(0);
    expect(show.json.backups.map((b: any) => b.backupId)).toEqual(backups);
    for (const b of show.json.backups)
      expect(b).toEqual(
        expect.objectContaining({
          state: 'committed',
          bytesStored: expect.any(Number),
          bytesReferenced: expect.any(Number),
        }),
      );
    // Later backups reuse the unchanged `products` chunks: they store less than they reference.
    expect(show.json.backups[3].bytesStored).toBeLessThan(show.json.backups[3].bytesReferenced);
    for (const r of [list, show]) expect(r.stdout + r.stderr).not.toContain(SUPERUSER_PASSWORD);
  });

  it('a bad name is a usage error; another definition under the same name is refused', async () => {
    const [badName, redefined, same] = await Promise.all([
      runCli(['collection', 'create', 'Nightly!', '--source', pg.url('shop'), '--repo', repo]),
      runCli(['collection', 'create', 'nightly', '--source', pg.url('shop'), '--keep-last', '5', '--repo', repo]),
      runCli(['collection', 'create', 'nightly', '--source', pg.url('shop'), '--keep-last', '2', '--repo', repo]),
    ]);
    expect(badName.code, describeResult(badName)).toBe(2);
    expect(badName.stderr).toContain('not a collection name');
    expect(redefined.code, describeResult(redefined)).toBe(1);
    expect(redefined.stderr).toMatch(/Collection nightly already exists .*another definition/);
    expect(same.code, describeResult(same)).toBe(0); // an identical create is a retry
  });
});

describe('maintenance lease', () => {
  it('gc and expire refuse while another holder has the lease, naming its purpose and expiry', async () => {
    const expiresAt = new Date(Date.now() + 600_000).toISOString();
    const holder = {
      name: MAINTENANCE_LEASE,
      owner: 'another-host',
      purpose: 'test holder',
      acquiredAt: new Date().toISOString(),
      expiresAt,
    };
    expect(await ctx.catalog.acquireLease(holder, new Date())).toBeUndefined();
    try {
      const results = await Promise.all([
        runCli(['gc', '--repo', repo, '--json']),
        runCli(['expire', '--repo', repo, '--json']),
      ]);
      for (const r of results) {
        expect(r.code, describeResult(r)).toBe(1);
        expect(r.json.error.type).toBe('LeaseHeldError');
        expect(r.stderr).toContain('held by test holder');
        expect(r.stderr).toContain(expiresAt);
      }
    } finally {
      await ctx.catalog.releaseLease(MAINTENANCE_LEASE, 'another-host');
    }
    expect(await filesUnder(join(repo, 'backups'))).not.toContainEqual(expect.stringMatching(/expired\.json$/));
  });
});

describe('expire', () => {
  it('--dry-run names what the policy drops and writes nothing', async () => {
    const before = await filesUnder(join(repo, 'backups'));
    const result = await runCli(['expire', '--collection', 'nightly', '--dry-run', '--repo', repo, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.collections[0].expired).toEqual([backups[1], backups[0]]);
    expect(await filesUnder(join(repo, 'backups'))).toEqual(before);
  });

  it('keeps the last two, writes the tombstones, then marks the catalog', async () => {
    const result = await runCli(['expire', '--repo', repo, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.collections).toEqual([
      {
        collection: 'nightly',
        kept: [
          { backupId: backups[3], reasons: ['last'] },
          { backupId: backups[2], reasons: ['last'] },
        ],
        expired: [backups[1], backups[0]],
        completed: [],
      },
    ]);
    for (const [i, id] of backups.entries()) {
      const tombstoned = (await ctx.storage.head(layout.backupExpired(id))) !== undefined;
      expect(tombstoned, id).toBe(i < 2);
      expect((await ctx.catalog.getBackup(id))!.state, id).toBe(i < 2 ? 'expired' : 'committed');
    }
    const again = await runCli(['expire', '--repo', repo, '--json']);
    expect(again.json.collections[0].expired).toEqual([]);
    const list = await runCli(['list', '--repo', repo]);
    expect(list.stdout).toMatch(new RegExp(`${backups[0]}\\s+expired\\s+\\S+ \\S+\\s+nightly`));
  });
});

describe('gc', () => {
  it('refuses while a backup is running, even one that registers after gc took the lease; deletes nothing', async () => {
    const before = await filesUnder(repo);
    const running = await simulateRunningBackup();
    const refused = await runCli(['gc', '--repo', repo, '--json']);
    expect(refused.code, describeResult(refused)).toBe(1);
    expect(refused.json.error.type).toBe('BackupsRunningError');
    expect(refused.stderr).toContain(running);
    await endSimulatedBackup(running);

    // The interleaving the protocol is about: the backup registers between gc's lease and its check.
    let late = '';
    await expect(
      collectGarbage(ctx, {}, { afterLease: async () => void (late = await simulateRunningBackup()) }),
    ).rejects.toThrow(/running/);
    await endSimulatedBackup(late);
    expect((await filesUnder(repo)).filter((f) => !f.startsWith('catalog/'))).toEqual(
      before.filter((f) => !f.startsWith('catalog/')),
    );
  });

  it('with --wait, waits for a running backup to end, then collects', async () => {
    const running = await simulateRunningBackup();
    const ended = new Promise<void>((resolve) =>
      setTimeout(() => void endSimulatedBackup(running).then(() => resolve()), 1500),
    );
    const report = await collectGarbage(ctx, { dryRun: true, waitSeconds: 30, pollMs: 200 });
    await ended;
    expect(report.chunksDeleted).toBeGreaterThan(0);
  });

  it('refuses when a kept manifest is damaged (in a copy of the repository)', async () => {
    const copy = join(repo, '..', 'damaged');
    await cp(repo, copy, { recursive: true });
    const manifest = join(copy, 'backups', backups[3]!, 'manifest.json');
    const bytes = await readFile(manifest);
    bytes[bytes.length - 10] ^= 0x01;
    await writeFile(manifest, bytes);
    const before = await filesUnder(join(copy, 'chunks'));
    const result = await runCli(['gc', '--repo', copy, '--json']);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stderr).toContain(`gc refuses to delete anything`);
    expect(result.stderr).toContain(backups[3]);
    expect(await filesUnder(join(copy, 'chunks'))).toEqual(before);
  });

  it('--dry-run reports what it would free and deletes nothing', async () => {
    const before = await filesUnder(repo);
    const result = await runCli(['gc', '--dry-run', '--repo', repo, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toEqual(
      expect.objectContaining({
        ok: true,
        dryRun: true,
        manifestsRemoved: byId([backups[0]!, backups[1]!]),
        chunksMissing: [],
      }),
    );
    expect(result.json.chunksDeleted).toBeGreaterThan(0);
    expect(result.json.bytesFreed).toBeGreaterThan(0);
    expect((await filesUnder(repo)).filter((f) => !f.startsWith('catalog/'))).toEqual(
      before.filter((f) => !f.startsWith('catalog/')),
    );
  });

  it('deletes exactly the unreferenced chunks, expired manifests and finished runs; keeps a running run', async () => {
    const { present: beforeChunks } = await chunkInventory();
    // A backup that registers once gc has checked would wait for the lease; its run files stay.
    let late = '';
    const report = await collectGarbage(
      ctx,
      {},
      {
        beforeSweep: async () => {
          late = await simulateRunningBackup();
          await ctx.storage.putIfAbsent(
            layout.planHeader(late),
            new TextEncoder().encode('plan of a run that has just started'),
          );
        },
      },
    );
    const { present, needed, keptManifests } = await chunkInventory();
    expect(keptManifests).toEqual(byId([backups[2]!, backups[3]!]));
    expect([...present].filter((k) => !needed.has(k))).toEqual([]); // nothing unreferenced is left
    expect([...needed].filter((k) => !present.has(k))).toEqual([]); // nothing needed is gone
    expect(report.chunksDeleted).toBe(beforeChunks.size - present.size);
    expect(report.chunksDeleted).toBeGreaterThan(0);
    expect(report.chunksKept).toBe(present.size);
    expect(report.manifestsRemoved).toEqual(byId([backups[0]!, backups[1]!]));
    expect(await readdir(join(repo, 'backups', backups[0]!))).toEqual([]);
    expect(report.runsRemoved).toEqual(byId(backups));
    expect(await filesUnder(join(repo, 'runs'))).toEqual([`${late}/plan.json`]);
    await endSimulatedBackup(late);

    // Once that run has ended, its files go too; nothing else is left to collect.
    const again = await collectGarbage(ctx);
    expect(again).toEqual(expect.objectContaining({ chunksDeleted: 0, manifestsRemoved: [], runsRemoved: [late] }));
    expect(await filesUnder(join(repo, 'runs'))).toEqual([]);
  });

  it('completes in the catalog an expire that died between its tombstone and its catalog write (in a copy)', async () => {
    const copy = join(repo, '..', 'interrupted-expire');
    await cp(repo, copy, { recursive: true });
    const copied = await openLocalContext(copy, { create: false });
    const victim = backups[2]!;
    // Simulates the crash: `expire` writes the tombstone first (the repository is the truth), then
    // dies before catalog.expireBackup, so the catalog still says `committed`.
    const tombstone = await writeTombstone(copied.storage, {
      backupId: victim,
      collection: 'nightly',
      expiredAt: '2025-06-01T00:00:00.000Z',
    });
    expect((await copied.catalog.getBackup(victim))!.state).toBe('committed');
    const result = await runCli(['gc', '--repo', copy, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toEqual(
      expect.objectContaining({ manifestsRemoved: [victim], catalogExpired: [victim], catalogConflicts: [] }),
    );
    // The catalog no longer names a committed backup whose manifest is gone.
    expect(await copied.catalog.getBackup(victim)).toEqual(
      expect.objectContaining({ state: 'expired', expiredAt: tombstone.expiredAt }),
    );
    expect(await filesUnder(join(copy, 'backups', victim))).toEqual([]);
    expect((await copied.catalog.getBackup(backups[3]!))!.state).toBe('committed');
    const again = await runCli(['gc', '--repo', copy, '--json']);
    expect(again.json).toEqual(expect.objectContaining({ chunksDeleted: 0, manifestsRemoved: [], catalogExpired: [] }));
  });

  it('keeps, and reports, a tombstoned backup that the catalog holds as failed (in a copy)', async () => {
    const copy = join(repo, '..', 'contradicting-catalog');
    await cp(repo, copy, { recursive: true });
    const copied = await openLocalContext(copy, { create: false });
    const backupId = newRunId();
    await copied.catalog.createBackup({
      backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      source: 'simulated:5432/shop',
    });
    await copied.catalog.finishBackup(backupId, {
      state: 'failed',
      finishedAt: new Date().toISOString(),
      error: 'simulated',
    });
    // A repository that contradicts the catalog: no expire leads from `failed` to a tombstone.
    // (gc reads only the tombstone of a tombstoned backup, so the manifest's content is irrelevant.)
    await copied.storage.putIfAbsent(
      layout.manifest(backupId),
      new TextEncoder().encode('manifest of a backup the catalog says failed'),
    );
    await writeTombstone(copied.storage, { backupId, expiredAt: new Date().toISOString() });
    const result = await runCli(['gc', '--repo', copy, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toEqual(
      expect.objectContaining({
        manifestsRemoved: [],
        catalogExpired: [],
        catalogConflicts: [{ backupId, state: 'failed' }],
      }),
    );
    expect(await filesUnder(join(copy, 'backups', backupId))).toEqual(['expired.json', 'manifest.json']);
    expect((await copied.catalog.getBackup(backupId))!.state).toBe('failed');
  });

  it('kept backups still verify, and the newest restores to the source as it is', async () => {
    for (const id of [backups[2]!, backups[3]!]) {
      const report = await verifyBackup(ctx.storage, id, () => {});
      expect(report.problems, id).toEqual([]);
    }
    await runRestore(repo, backups[3]!, pg.url('shop_restored'), { workers: 2 });
    expect((await compareDatabases(pg.url('shop'), pg.url('shop_restored'))).differences).toEqual([]);
  });
});

describe('catalog rebuild', () => {
  it('after losing the catalog, gives back every backup (ids, states, stats) and the collection', async () => {
    const before = await ctx.catalog.listBackups();
    const collections = await ctx.catalog.listCollections();
    await rm(join(repo, 'catalog'), { recursive: true, force: true });
    const result = await runCli(['catalog', 'rebuild', '--repo', repo, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toEqual(expect.objectContaining({ ok: true, collectionsImported: ['nightly'], damaged: [] }));
    const after = await ctx.catalog.listBackups();
    // Only committed backups have manifests; expired ones were removed by gc, failed runs never had one.
    const restorable = before.filter((b) => b.state === 'committed');
    const pick = (b: BackupRecord) => ({
      backupId: b.backupId,
      state: b.state,
      stats: b.stats,
      collection: b.collection,
      snapshotTime: b.snapshotTime,
      manifestKey: b.manifestKey,
    });
    expect(after.map(pick)).toEqual(restorable.map(pick));
    expect(await ctx.catalog.listCollections()).toEqual(collections);
    const again = await runCli(['catalog', 'rebuild', '--repo', repo, '--json']);
    expect(again.json).toEqual(
      expect.objectContaining({ backupsImported: [], collectionsImported: [], alreadyPresent: 3 }),
    );
  });
});
