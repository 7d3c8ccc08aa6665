// A collection over its life (issue 4): ten incremental backups with 1% churn each, retention to
// the last three, garbage collection, restores of what was kept, a catalog rebuilt from the
// repository; and gc racing real backups in both orders, the interleavings forced by the test.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runRestore, tempRepository } from '../support/pipeline.ts';
import { tableContents } from '../support/database-state.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { expireBackups } from '#core/maintenance/expire.ts';
import { collectGarbage } from '#core/maintenance/gc.ts';
import { rebuildCatalog } from '#core/maintenance/catalog-rebuild.ts';
import { changedSince } from '#core/backup/incremental-plan.ts';
import { manifestChunkRefs, readManifest } from '#core/repository/manifest.ts';
import { layout } from '#core/repository/layout.ts';
import { verifyBackup } from '#core/verify-backup.ts';
import type { RepositoryStorage } from '#core/ports/storage.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';

const ROWS = 40_000;

async function backupWith(ctx: LocalContext, url: string, collection?: string): Promise<string> {
  ctx.credentials.register('source', url);
  const output = await runStateMachine(
    'backup',
    {
      source: { credentials: 'source' },
      ...(collection ? { collection } : {}),
      options: { workers: 2, snapshotHoldSeconds: 600, plan: { chunkBytes: 256 * 1024, rangeBytes: 1 << 20 } },
    },
    ctx,
  );
  return output.backupId;
}

/** Every chunk in the repository, and every chunk a live (not expired) manifest references. */
async function chunkCensus(repo: string, ctx: LocalContext): Promise<{ stored: Set<string>; referenced: Set<string> }> {
  const stored = new Set<string>();
  for (const fan of await readdir(join(repo, 'chunks')))
    for (const id of await readdir(join(repo, 'chunks', fan))) stored.add(id);
  const referenced = new Set<string>();
  for await (const object of ctx.storage.list(layout.backupsPrefix())) {
    const id = object.key.split('/')[1]!;
    if (!object.key.endsWith('/manifest.json') || (await ctx.storage.head(layout.backupExpired(id)))) continue;
    for (const c of manifestChunkRefs(await readManifest(ctx.storage, id))) referenced.add(c.id);
  }
  return { stored, referenced };
}

describe('a collection over ten backups', () => {
  let pg: PostgresServer;
  let repo: string;
  let ctx: LocalContext;
  const taken: { backupId: string; contents: Record<string, string> }[] = [];

  beforeAll(async () => {
    pg = await startPostgres({ major: 15 });
    repo = await tempRepository();
    await pg.createDatabase('app');
    await pg.sql(
      `CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL, meta jsonb);
       INSERT INTO accounts SELECT g, 'owner ' || g, g % 1000, jsonb_build_object('g', g) FROM generate_series(1, ${ROWS}) g;
       CREATE TABLE journal (at timestamptz, line text);
       INSERT INTO journal SELECT now(), 'opened ' || g FROM generate_series(1, 200) g;`,
      'app',
    );
    ctx = await openLocalContext(repo, { create: true });
    const url = pg.url('app');
    await createCollection(ctx, {
      name: 'app',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: { keepLast: 3 },
    });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('compares transaction ids across the 2^32 wraparound', async () => {
    // "now" is this transaction's own xid N (small on a test server); the parent's xmin is 2,000
    // before it, so just below the wrap of the 32-bit counter.
    const client = new Client({ connectionString: pg.url('app') });
    await client.connect();
    try {
      await client.query('BEGIN');
      const n = BigInt((await client.query(`SELECT (pg_catalog.txid_current() & 4294967295)::text AS n`)).rows[0].n);
      const wrap = (v: bigint) => ((v % 2n ** 32n) + 2n ** 32n) % 2n ** 32n;
      const parent = wrap(n - 2000n);
      const values = {
        before: wrap(parent - 1n),
        parent,
        top: 4294967295n,
        afterWrap: 3n,
        now: n,
        ancient: wrap(n - 2n ** 31n - 5n),
      };
      const { rows } = await client.query(
        `SELECT k, ${changedSince(String(parent), 'x')} AS changed FROM (VALUES ${Object.entries(values)
          .map(([k, v]) => `('${k}', '${v}'::xid)`)
          .join(', ')}) v(k, x)`,
      );
      await client.query('COMMIT');
      expect(Object.fromEntries(rows.map((r) => [r.k, r.changed]))).toEqual({
        before: false, // the parent saw it
        parent: true,
        top: true, // 4294967295, the last xid before the wrap
        afterWrap: true, // 3, the first normal xid after it
        now: true,
        ancient: true, // a raw xmin over 2^31 back (a frozen row): exported again, never lost
      });
    } finally {
      await client.end();
    }
  });

  it('ten backups with 1% churn each; expire to keep-last 3 and gc: the kept three restore identical and nothing unreferenced is left', async () => {
    for (let i = 0; i < 10; i++) {
      if (i > 0) {
        await pg.sql(
          `UPDATE accounts SET balance = balance + ${i}, meta = meta || '{"round": ${i}}' WHERE id % 200 = ${i * 7};
           INSERT INTO accounts SELECT g, 'new ' || g, 0, NULL FROM generate_series(${ROWS + i * 1000}, ${ROWS + i * 1000 + 199}) g;
           DELETE FROM accounts WHERE id % 997 = ${i};
           INSERT INTO journal VALUES (now(), 'round ${i}');`,
          'app',
        );
      }
      taken.push({ backupId: await backupWith(ctx, pg.url('app'), 'app'), contents: await tableContents(pg, 'app') });
    }
    const last = await readManifest(ctx.storage, taken[9]!.backupId);
    expect(last.parent).toBe(taken[8]!.backupId);
    // Past MAX_LAYERS the table is exported whole again: the chain never grows without bound.
    expect(last.tables.find((t) => t.name === 'accounts')!.layers?.length ?? 0).toBeLessThan(8);

    const expiry = await expireBackups(ctx, { collection: 'app' });
    expect(expiry.collections[0]!.expired.sort()).toEqual(
      taken
        .slice(0, 7)
        .map((t) => t.backupId)
        .sort(),
    );
    const before = await chunkCensus(repo, ctx);
    const gc = await collectGarbage(ctx);
    const after = await chunkCensus(repo, ctx);
    console.log(
      `gc: ${gc.chunksDeleted} chunks deleted (${gc.bytesFreed} bytes), ${gc.chunksKept} kept; ${gc.manifestsRemoved.length} manifests removed`,
    );
    expect(gc.chunksMissing).toEqual([]);
    expect(gc.manifestsRemoved.sort()).toEqual(
      taken
        .slice(0, 7)
        .map((t) => t.backupId)
        .sort(),
    );
    expect(after.stored).toEqual(after.referenced); // nothing unreferenced left, nothing referenced missing
    expect(after.stored.size).toBeLessThan(before.stored.size);

    for (const kept of taken.slice(7)) {
      expect((await verifyBackup(ctx.storage, kept.backupId, () => {})).problems).toEqual([]);
      const target = `app_kept_${kept.backupId.slice(-6)}`;
      await runRestore(repo, kept.backupId, pg.url(target));
      expect(await tableContents(pg, target), kept.backupId).toEqual(kept.contents);
    }
  });

  it('a catalog rebuilt from the repository alone gives back every committed backup, with its collection and parent', async () => {
    const original = (await ctx.catalog.listBackups()).filter((b) => b.state === 'committed');
    await rm(join(repo, 'catalog'), { recursive: true, force: true });
    const fresh = await openLocalContext(repo, { create: false });
    await rebuildCatalog(fresh);
    const rebuilt = (await fresh.catalog.listBackups()).filter((b) => b.state === 'committed');
    const essence = (b: (typeof original)[number]) => ({
      backupId: b.backupId,
      collection: b.collection,
      parent: b.parent,
      stats: b.stats,
      manifestKey: b.manifestKey,
    });
    expect(rebuilt.map(essence)).toEqual(original.map(essence));
    expect(await fresh.catalog.getCollection('app')).toMatchObject({ name: 'app', retention: { keepLast: 3 } });
    ctx = fresh;
  });

  it('gc while a backup runs deletes nothing; the backup commits and restores', async () => {
    // Make chunks that only an expired backup references: a full backup, then the table moves on.
    const stale = await backupWith(ctx, pg.url('app'), 'app');
    const staleContents = await tableContents(pg, 'app');
    await pg.sql(`UPDATE accounts SET owner = owner || '!' WHERE id % 2 = 0`, 'app');
    await backupWith(ctx, pg.url('app'), 'app');
    await backupWith(ctx, pg.url('app'), 'app');
    await backupWith(ctx, pg.url('app'), 'app');
    await expireBackups(ctx, { collection: 'app' });
    expect((await ctx.catalog.getBackup(stale))!.state).toBe('expired');
    await pg.sql(`UPDATE accounts SET owner = rtrim(owner, '!') WHERE id % 2 = 0`, 'app');
    expect(await tableContents(pg, 'app')).toEqual(staleContents);

    // A full backup of the same rows finds the expired backup's chunks present and does not
    // write them again. The test holds it at its first chunk (the storage below is the real
    // one, with a gate in front) and runs gc meanwhile.
    let opened!: () => void;
    const gate = new Promise<void>((resolve) => (opened = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    const gated: RepositoryStorage = Object.create(ctx.storage);
    gated.putIfAbsent = async (key, body) => {
      if (key.startsWith('chunks/')) {
        reached();
        await gate;
      }
      return ctx.storage.putIfAbsent(key, body);
    };
    const running = backupWith({ ...ctx, storage: gated }, pg.url('app'));
    await atGate;
    const chunksBefore = (await chunkCensus(repo, ctx)).stored;
    await expect(collectGarbage(ctx)).rejects.toThrow(/backup\(s\) are running/);
    expect((await chunkCensus(repo, ctx)).stored).toEqual(chunksBefore);
    opened();
    const backupId = await running;
    expect((await verifyBackup(ctx.storage, backupId, () => {})).problems).toEqual([]);
    await runRestore(repo, backupId, pg.url('app_during_gc'));
    expect(await tableContents(pg, 'app_during_gc')).toEqual(staleContents);
  });

  it('a backup that starts while gc sweeps waits for it, then writes again what gc removed', async () => {
    await expireBackups(ctx, { collection: 'app' });
    const contents = await tableContents(pg, 'app');
    let started: Promise<string> | undefined;
    let plannedWhileSweeping: boolean | undefined;
    const gc = await collectGarbage(
      ctx,
      {},
      {
        beforeSweep: async () => {
          // gc has the lease and found no backup running: a backup that starts now must wait.
          started = backupWith(ctx, pg.url('app'));
          await new Promise((r) => setTimeout(r, 2500));
          const running = (await ctx.catalog.listBackups()).filter((b) => b.state === 'running');
          expect(running).toHaveLength(1);
          plannedWhileSweeping = Boolean(await ctx.storage.head(layout.planHeader(running[0]!.backupId)));
        },
      },
    );
    expect(plannedWhileSweeping).toBe(false);
    expect(gc.chunksDeleted).toBeGreaterThan(0);
    const backupId = await started!;
    expect((await verifyBackup(ctx.storage, backupId, () => {})).problems).toEqual([]);
    await runRestore(repo, backupId, pg.url('app_after_gc'));
    expect(await tableContents(pg, 'app_after_gc')).toEqual(contents);
  });
});
