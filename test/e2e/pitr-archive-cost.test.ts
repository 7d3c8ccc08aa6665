// What one archive run costs in storage listings, against a real PostgreSQL 15: it lists from the
// catalog's last segment record, so a chain twice as long costs the same (one listing of a key or
// two), where a listing of the whole chain grows with it; and the repository stays the source of
// truth: a segment written by a run that died before recording it is found and recorded.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tempRepository } from '../support/pipeline.ts';
import { archivedSegments, openPitrSource, type PitrSource } from '../support/pitr-source.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { listChains } from '#core/pitr/chain.ts';
import { segmentRecorder } from '#core/pipelines/segment-recorder.ts';
import { chainLacksBaseBackup } from '#core/pitr/base-backup.ts';
import { resolvePoint } from '#core/pitr/resolve-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import type { ListOptions, RepositoryStorage } from '#core/ports/storage.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

/** The real storage, counting its listings and the keys they return (S3: a LIST request per 1,000). */
function countingStorage(storage: RepositoryStorage) {
  const counts = { lists: 0, keys: 0, gets: 0 };
  const counted: RepositoryStorage = {
    location: storage.location,
    putIfAbsent: (key, body) => storage.putIfAbsent(key, body),
    get: (key) => {
      counts.gets++;
      return storage.get(key);
    },
    head: (key) => storage.head(key),
    delete: (key) => storage.delete(key),
    removeAbandonedWrites: (olderThan, prefix) => storage.removeAbandonedWrites(olderThan, prefix),
    async *list(prefix: string, options?: ListOptions) {
      counts.lists++;
      for await (const info of storage.list(prefix, options)) {
        counts.keys++;
        yield info;
      }
    },
  };
  return {
    storage: counted,
    /** The counts of what `fn` did. */
    async of(fn: () => Promise<unknown>) {
      Object.assign(counts, { lists: 0, keys: 0, gets: 0 });
      await fn();
      const { lists, keys, gets } = counts;
      return { lists, keys, gets };
    },
  };
}

const commits = async (db: string, n: number) => {
  for (let i = 0; i < n; i++) await server.sql(`INSERT INTO t (pad) VALUES (repeat('x', 300))`, db);
};

/** Segment places in the repository and in the catalog, as `chain afterLsn part`. */
async function placesOf(src: PitrSource, collection: string) {
  const chains = await listChains(src.ctx.storage, collection);
  const place = (p: { chain: string; afterLsn: string; part: number }) => `${p.chain} ${p.afterLsn} ${p.part}`;
  return {
    repository: [...chains.values()].flat().map(place),
    catalog: (await src.ctx.catalog.listSegments(collection)).map(place),
  };
}

test('an archive run lists the same few keys however long the chain; without the catalog it lists the whole chain', async () => {
  const url = await server.createDatabase('long');
  await server.sql('CREATE TABLE t (id serial PRIMARY KEY, pad text)', 'long');
  const src = await openPitrSource(await tempRepository(), url);
  try {
    await enablePitr(src.session, src.stream, src.ctx.storage, 'long');
    const counting = countingStorage(src.ctx.storage);
    const recorder = () => segmentRecorder(src.ctx.catalog);
    // Small segments: about one per transaction.
    const run = (onSegment = recorder()) =>
      archiveChanges(src.stream, counting.storage, 'long', { onSegment, segmentBytes: 256, heartbeat: false });
    let unrecorded = 0;
    const figures: { segments: number; withCatalog: { lists: number; keys: number }; whole: number }[] = [];
    for (const batch of [40, 40]) {
      await commits('long', batch);
      await run();
      const segments = (await placesOf(src, 'long')).repository.length;
      await commits('long', 1);
      const withCatalog = await counting.of(() => run());
      // The same run with a sink that has no catalog: the whole chain is listed, as every run did before.
      await commits('long', 1);
      const whole = await counting.of(async () => {
        unrecorded = (await run(Object.assign(async () => {}, {}))).segments;
      });
      figures.push({ segments, withCatalog, whole: whole.keys });
    }
    console.log('archive run listings', JSON.stringify(figures));
    expect(figures[0]!.segments).toBeGreaterThan(40);
    expect(figures[1]!.segments).toBeGreaterThan(figures[0]!.segments + 39);
    for (const f of figures) {
      expect(f.withCatalog).toMatchObject({ lists: 1, keys: 1 });
      expect(f.whole).toBeGreaterThanOrEqual(f.segments);
    }
    // What the CLI asks after each run (a chain begun after a gap without its base backup?)
    // reads the opening segment by its place: no listing, however long the chain.
    const chain = [...(await listChains(src.ctx.storage, 'long')).keys()][0]!;
    let lacks: boolean | undefined;
    expect(
      await counting.of(async () => {
        lacks = await chainLacksBaseBackup(src.ctx.catalog, counting.storage, 'long', chain);
      }),
    ).toMatchObject({ lists: 0, keys: 0 });
    expect(lacks).toBe(false); // begun by pitr enable, not by a gap
    // A restore's Resolve finds `latest`, or an LSN near the end, from the chain's end: a segment
    // or two read, however long the chain (it read every segment before).
    const places = (await listChains(src.ctx.storage, 'long')).get(chain)!;
    const committed = (await archivedSegments(src.ctx.storage, 'long'))
      .flatMap((x) => x.records)
      .filter((r) => r.k === 'C');
    const last = committed.at(-1)!;
    for (const [target, expected] of [
      ['latest', last],
      [`lsn:${last.lsn}`, last],
      [`lsn:${committed.at(-2)!.lsn}`, committed.at(-2)!],
    ] as const) {
      let point: { xid: string; lsn: string } | undefined;
      const cost = await counting.of(async () => {
        point = (await resolvePoint(counting.storage, places, parseTarget(target))).point;
      });
      expect(point, target).toMatchObject({ xid: expected.xid, lsn: expected.lsn });
      expect(cost.gets, target).toBeLessThanOrEqual(3);
    }
    expect(places.length).toBeGreaterThan(80);
    // The run without the catalog wrote segments the catalog lacks: the next run records them.
    const before = await placesOf(src, 'long');
    expect(unrecorded).toBeGreaterThan(0);
    expect(before.catalog.length).toBe(before.repository.length - unrecorded);
    await run();
    const after = await placesOf(src, 'long');
    expect(after.catalog).toEqual(after.repository);
    const rows = (await archivedSegments(src.ctx.storage, 'long')).flatMap((s) => s.records).filter((r) => r.k === 'I');
    expect(rows).toHaveLength(84);
  } finally {
    await src.close();
  }
});

test('a run that died between writing a segment and recording it: the next run finds it, records it, and archives nothing twice', async () => {
  const url = await server.createDatabase('died');
  await server.sql('CREATE TABLE t (id serial PRIMARY KEY, pad text)', 'died');
  const src = await openPitrSource(await tempRepository(), url);
  try {
    await enablePitr(src.session, src.stream, src.ctx.storage, 'died');
    await commits('died', 5);
    await archiveChanges(src.stream, src.ctx.storage, 'died', {
      onSegment: segmentRecorder(src.ctx.catalog),
    });
    // A transaction larger than several segments; the run dies after its second segment is in
    // the repository, before the catalog records it (so before the slot moves).
    await server.sql("INSERT INTO t (pad) SELECT repeat('y', 200) FROM generate_series(1, 400)", 'died');
    const recorder = segmentRecorder(src.ctx.catalog);
    let written = 0;
    const dying = Object.assign(
      async (segment: Parameters<typeof recorder>[0]) => {
        if (++written === 2) throw new Error('archiver killed before recording');
        await recorder(segment);
      },
      { records: recorder.records },
    );
    await expect(
      archiveChanges(src.stream, src.ctx.storage, 'died', { onSegment: dying, segmentBytes: 16 * 1024 }),
    ).rejects.toThrow('archiver killed');
    const dead = await placesOf(src, 'died');
    expect(dead.catalog.length).toBe(dead.repository.length - 1);
    const [lastWritten] = dead.repository.slice(-1);
    expect(dead.catalog).not.toContain(lastWritten);

    // The next run starts from the catalog's last record, finds the unrecorded segment after
    // it, records it, steps back over the unfinished transaction's parts and continues it.
    const counting = countingStorage(src.ctx.storage);
    let result: Awaited<ReturnType<typeof archiveChanges>> | undefined;
    const cost = await counting.of(async () => {
      result = await archiveChanges(src.stream, counting.storage, 'died', {
        onSegment: segmentRecorder(src.ctx.catalog),
        segmentBytes: 16 * 1024,
      });
    });
    expect(result!.transactions).toBe(1);
    expect(cost).toMatchObject({ lists: 1, keys: 2 });
    const after = await placesOf(src, 'died');
    expect(after.catalog).toEqual(after.repository);
    expect(after.catalog).toContain(lastWritten);
    const records = (await archivedSegments(src.ctx.storage, 'died')).flatMap((s) => s.records);
    const xids = records.filter((r) => r.k === 'C').map((r) => (r.k === 'C' ? r.xid : ''));
    expect(new Set(xids).size).toBe(xids.length);
    expect(records.filter((r) => r.k === 'I')).toHaveLength(405);
    expect((await src.stream.slotState('tidemark_died'))!.confirmedLsn).toBe(result!.endLsn);

    // Dying after recording the third part of a large transaction: the catalog's last record is
    // inside it, and the next run steps back over its parts by key, without listing the chain.
    await server.sql("INSERT INTO t (pad) SELECT repeat('z', 200) FROM generate_series(1, 400)", 'died');
    let parts = 0;
    const recordedThenKilled = Object.assign(
      async (segment: Parameters<typeof recorder>[0]) => {
        await recorder(segment);
        if (++parts === 3) throw new Error('archiver killed after recording');
      },
      { records: recorder.records },
    );
    await expect(
      archiveChanges(src.stream, src.ctx.storage, 'died', { onSegment: recordedThenKilled, segmentBytes: 16 * 1024 }),
    ).rejects.toThrow('killed after recording');
    const inside = await src.ctx.catalog.lastSegment('died');
    expect(inside).toMatchObject({ openAtEnd: true, transactions: 0, part: 2 });
    const resumed = await counting.of(async () => {
      result = await archiveChanges(src.stream, counting.storage, 'died', {
        onSegment: segmentRecorder(src.ctx.catalog),
        segmentBytes: 16 * 1024,
      });
    });
    expect(resumed).toMatchObject({ lists: 1, keys: 1 });
    expect(result!.transactions).toBe(1);
    const all = (await archivedSegments(src.ctx.storage, 'died')).flatMap((s) => s.records);
    expect(all.filter((r) => r.k === 'I')).toHaveLength(805);
    expect(all.filter((r) => r.k === 'C')).toHaveLength(new Set(all.flatMap((r) => (r.k === 'C' ? [r.xid] : []))).size);
    const end = await placesOf(src, 'died');
    expect(end.catalog).toEqual(end.repository);
  } finally {
    await src.close();
  }
});
