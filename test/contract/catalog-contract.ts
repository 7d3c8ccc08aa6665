// The BackupCatalog contract: the file catalog and the DynamoDB catalog run this same suite.
// Each test gets a fresh, empty catalog.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupNotFoundError, CatalogConflictError } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, CollectionRecord, Lease, RestoreRecord } from '#core/ports/catalog.ts';

export interface CatalogFixture {
  catalog: BackupCatalog;
  cleanup(): Promise<void>;
}

export const backupRecord = (backupId: string, more: Partial<BackupRecord> = {}): BackupRecord => ({
  backupId,
  state: 'running',
  startedAt: '2025-03-01T10:00:00.000Z',
  source: 'db.example.com:5432/app',
  ...more,
});

export const restoreRecord = (restoreId: string, more: Partial<RestoreRecord> = {}): RestoreRecord => ({
  restoreId,
  backupId: 'b1',
  state: 'running',
  startedAt: '2025-03-02T10:00:00.000Z',
  target: 'localhost:5432/app_restored',
  ...more,
});

export const collectionRecord = (name: string, more: Partial<CollectionRecord> = {}): CollectionRecord => ({
  name,
  createdAt: '2025-03-01T09:00:00.000Z',
  source: 'app-db-credentials',
  sourceDescription: 'db.example.com:5432/app',
  retention: { keepLast: 3, keepDaily: 7 },
  ...more,
});

/** Leases in these tests run from T0 to T0 + 5 min unless said otherwise. */
const T0 = new Date('2025-03-01T10:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const lease = (owner: string, more: Partial<Lease> = {}): Lease => ({
  name: 'gc',
  owner,
  purpose: 'gc',
  acquiredAt: T0.toISOString(),
  expiresAt: at(5).toISOString(),
  ...more,
});

export function catalogContract(name: string, make: () => Promise<CatalogFixture>): void {
  describe(`BackupCatalog contract: ${name}`, () => {
    let catalog: BackupCatalog;
    let fixture: CatalogFixture;
    beforeEach(async () => {
      fixture = await make();
      catalog = fixture.catalog;
    });
    afterEach(() => fixture.cleanup());

    it('listRunningBackups sees a backup created a moment before, at once (a strongly consistent read)', async () => {
      expect(await catalog.listRunningBackups()).toEqual([]);
      const record = backupRecord('b1', { deadline: '2025-03-01T11:00:00.000Z', collection: 'nightly', parent: null });
      await catalog.createBackup(record);
      // No wait, no retry: gc's safety rests on seeing every createBackup that completed before it looked.
      expect(await catalog.listRunningBackups()).toEqual([record]);
    });

    it('listRunningBackups lists only running backups, oldest first; finished and expired ones, restores and collections are not listed', async () => {
      await catalog.createBackup(backupRecord('late', { startedAt: '2025-03-01T12:00:00.000Z' }));
      await catalog.createBackup(backupRecord('early', { startedAt: '2025-03-01T08:00:00.000Z' }));
      for (const id of ['committed', 'failed', 'expired']) await catalog.createBackup(backupRecord(id));
      await catalog.finishBackup('committed', { state: 'committed' });
      await catalog.finishBackup('failed', { state: 'failed', error: 'boom' });
      await catalog.finishBackup('expired', { state: 'committed' });
      await catalog.expireBackup('expired', '2025-04-01T00:00:00.000Z');
      await catalog.importBackup(backupRecord('imported', { state: 'committed' }));
      await catalog.createRestore(restoreRecord('r1'));
      await catalog.createCollection(collectionRecord('nightly'));
      expect((await catalog.listRunningBackups()).map((b) => b.backupId)).toEqual(['early', 'late']);
      // A finish is seen at once as well.
      await catalog.finishBackup('early', { state: 'committed' });
      expect(await catalog.listRunningBackups()).toEqual([
        backupRecord('late', { startedAt: '2025-03-01T12:00:00.000Z' }),
      ]);
    });

    it('createBackup then getBackup returns the record; an unknown id gives undefined', async () => {
      const record = backupRecord('b1', { serverVersion: '15.8', warnings: ['w'] });
      await catalog.createBackup(record);
      expect(await catalog.getBackup('b1')).toEqual(record);
      expect(await catalog.getBackup('b2')).toBeUndefined();
    });

    it('listBackups returns every backup oldest first, by startedAt then id', async () => {
      expect(await catalog.listBackups()).toEqual([]);
      await catalog.createBackup(backupRecord('b-late', { startedAt: '2025-03-01T12:00:00.000Z' }));
      await catalog.createBackup(backupRecord('b-z', { startedAt: '2025-03-01T09:00:00.000Z' }));
      await catalog.createBackup(backupRecord('b-a', { startedAt: '2025-03-01T09:00:00.000Z' }));
      await catalog.createBackup(backupRecord('b-early', { startedAt: '2025-02-28T23:59:59.999Z' }));
      await catalog.createRestore(restoreRecord('r1'));
      const ids = (await catalog.listBackups()).map((b) => b.backupId);
      expect(ids).toEqual(['b-early', 'b-a', 'b-z', 'b-late']);
    });

    it('createBackup of the identical record again is an idempotent success', async () => {
      const record = backupRecord('b1', { snapshotLsn: '0/16B3748' });
      await catalog.createBackup(record);
      await catalog.createBackup({ ...record }); // a retried Plan task
      expect(await catalog.listBackups()).toEqual([record]);
    });

    it('createBackup of an existing id with different content throws CatalogConflictError', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const other = backupRecord('b1', { source: 'other.example.com:5432/app' });
      await expect(catalog.createBackup(other)).rejects.toBeInstanceOf(CatalogConflictError);
      expect(await catalog.getBackup('b1')).toEqual(backupRecord('b1'));
    });

    it('finishBackup moves running to committed, merging the changes', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const changes = {
        state: 'committed',
        finishedAt: '2025-03-01T10:05:00.000Z',
        manifestKey: 'manifests/b1',
      } as const;
      const committed = await catalog.finishBackup('b1', changes);
      expect(committed).toEqual({ ...backupRecord('b1'), ...changes });
      expect(await catalog.getBackup('b1')).toEqual(committed);
    });

    it('a repeat of the same finish is a no-op', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const changes = { state: 'committed', manifestKey: 'manifests/b1' } as const;
      const first = await catalog.finishBackup('b1', changes);
      expect(await catalog.finishBackup('b1', changes)).toEqual(first);
      expect(await catalog.getBackup('b1')).toEqual(first);
    });

    it('committed → failed is refused with CatalogConflictError', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const committed = await catalog.finishBackup('b1', { state: 'committed' });
      await expect(catalog.finishBackup('b1', { state: 'failed', error: 'late' })).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      expect(await catalog.getBackup('b1')).toEqual(committed);
    });

    it('finishBackup of an unknown backup throws BackupNotFoundError', async () => {
      await expect(catalog.finishBackup('nope', { state: 'committed' })).rejects.toBeInstanceOf(BackupNotFoundError);
    });

    it('20 racing finishBackup calls (half committed, half failed): exactly one state wins', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const finish = (i: number) =>
        catalog.finishBackup(
          'b1',
          i % 2 ? { state: 'failed', error: `caller ${i}` } : { state: 'committed', manifestKey: `caller ${i}` },
        );
      await expectOneWinner(finish, async () => (await catalog.getBackup('b1'))!);
    });

    it('createBackup keeps the collection, parent (null too) and deadline fields', async () => {
      const full = backupRecord('b1', { collection: 'nightly', parent: null, deadline: '2025-03-01T11:00:00.000Z' });
      const incremental = backupRecord('b2', { collection: 'nightly', parent: 'b1' });
      await catalog.createBackup(full);
      await catalog.createBackup(incremental);
      expect(await catalog.getBackup('b1')).toEqual(full);
      expect(await catalog.getBackup('b2')).toEqual(incremental);
    });

    it('expireBackup moves committed to expired with expiredAt; a repeat returns the stored record', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const committed = await catalog.finishBackup('b1', { state: 'committed', manifestKey: 'manifests/b1' });
      const expired = await catalog.expireBackup('b1', '2025-04-01T00:00:00.000Z');
      expect(expired).toEqual({ ...committed, state: 'expired', expiredAt: '2025-04-01T00:00:00.000Z' });
      expect(await catalog.getBackup('b1')).toEqual(expired);
      // A retried expire (with a later clock) changes nothing: the first expiredAt stays.
      expect(await catalog.expireBackup('b1', '2025-04-02T00:00:00.000Z')).toEqual(expired);
      expect(await catalog.getBackup('b1')).toEqual(expired);
      await expect(catalog.finishBackup('b1', { state: 'committed' })).rejects.toBeInstanceOf(CatalogConflictError);
    });

    it('expireBackup refuses running and failed backups, and names an unknown one', async () => {
      await catalog.createBackup(backupRecord('running'));
      await catalog.createBackup(backupRecord('failed'));
      const failed = await catalog.finishBackup('failed', { state: 'failed', error: 'boom' });
      await expect(catalog.expireBackup('running', '2025-04-01T00:00:00.000Z')).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      await expect(catalog.expireBackup('failed', '2025-04-01T00:00:00.000Z')).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      expect(await catalog.getBackup('running')).toEqual(backupRecord('running'));
      expect(await catalog.getBackup('failed')).toEqual(failed);
      await expect(catalog.expireBackup('nope', '2025-04-01T00:00:00.000Z')).rejects.toBeInstanceOf(
        BackupNotFoundError,
      );
    });

    it('listBackups includes expired backups, in state expired', async () => {
      await catalog.createBackup(backupRecord('b1', { startedAt: '2025-03-01T09:00:00.000Z' }));
      await catalog.createBackup(backupRecord('b2'));
      await catalog.finishBackup('b1', { state: 'committed' });
      await catalog.expireBackup('b1', '2025-04-01T00:00:00.000Z');
      const listed = await catalog.listBackups();
      expect(listed.map((b) => [b.backupId, b.state])).toEqual([
        ['b1', 'expired'],
        ['b2', 'running'],
      ]);
      expect(listed[0]!.expiredAt).toBe('2025-04-01T00:00:00.000Z');
    });

    it('importBackup writes a record as given in any state; identical again is a no-op, different a conflict', async () => {
      const committed = backupRecord('b1', {
        state: 'committed',
        manifestKey: 'manifests/b1',
        collection: 'nightly',
        parent: null,
      });
      const expired = backupRecord('b2', { state: 'expired', expiredAt: '2025-04-01T00:00:00.000Z' });
      await catalog.importBackup(committed);
      await catalog.importBackup(expired);
      await catalog.importBackup({ ...committed }); // a rerun of the rebuild
      expect(await catalog.listBackups()).toEqual([committed, expired]);
      await expect(catalog.importBackup({ ...committed, state: 'failed' })).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      expect(await catalog.getBackup('b1')).toEqual(committed);
      // An imported committed backup takes part in transitions like any other.
      expect((await catalog.expireBackup('b1', '2025-04-01T00:00:00.000Z')).state).toBe('expired');
    });

    it('collections: create, get, list by name, idempotent create, conflicting create', async () => {
      expect(await catalog.listCollections()).toEqual([]);
      const nightly = collectionRecord('nightly', { schedule: 'cron(0 3 * * ? *)' });
      // Created later but sorted first: the list is by name, not by creation time.
      const billing = collectionRecord('billing', {
        createdAt: '2025-03-02T09:00:00.000Z',
        retention: { keepLast: 1 },
      });
      await catalog.createCollection(nightly);
      await catalog.createCollection(billing);
      await catalog.createCollection({ ...nightly });
      expect(await catalog.getCollection('nightly')).toEqual(nightly);
      expect(await catalog.getCollection('weekly')).toBeUndefined();
      expect(await catalog.listCollections()).toEqual([billing, nightly]);
      await expect(catalog.createCollection({ ...nightly, retention: { keepLast: 9 } })).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      expect(await catalog.getCollection('nightly')).toEqual(nightly);
      expect(await catalog.listBackups()).toEqual([]);
    });

    it('leases: the first owner takes it; a second owner gets the holder back and changes nothing', async () => {
      expect(await catalog.getLease('gc')).toBeUndefined();
      expect(await catalog.acquireLease(lease('a'), T0)).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(lease('a'));
      expect(await catalog.acquireLease(lease('b', { expiresAt: at(10).toISOString() }), at(1))).toEqual(lease('a'));
      expect(await catalog.getLease('gc')).toEqual(lease('a'));
      // Another name is another lease.
      expect(await catalog.acquireLease(lease('b', { name: 'expire' }), at(1))).toBeUndefined();
    });

    it('leases: free for another owner once expired (expiresAt <= now), and still readable until then', async () => {
      await catalog.acquireLease(lease('a'), T0);
      const b = lease('b', { acquiredAt: at(5).toISOString(), expiresAt: at(10).toISOString() });
      expect(await catalog.acquireLease(b, new Date(at(5).getTime() - 1))).toEqual(lease('a'));
      expect(await catalog.getLease('gc')).toEqual(lease('a')); // expired or not, getLease shows it
      expect(await catalog.acquireLease(b, at(5))).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(b);
    });

    it('leases: the holder renews by acquiring again, before or after expiry', async () => {
      await catalog.acquireLease(lease('a'), T0);
      const renewed = lease('a', { expiresAt: at(15).toISOString() });
      expect(await catalog.acquireLease(renewed, at(4))).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(renewed);
      expect(await catalog.acquireLease(lease('b'), at(10))).toEqual(renewed);
      const late = lease('a', { expiresAt: at(30).toISOString() });
      expect(await catalog.acquireLease(late, at(20))).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(late);
    });

    it('leases: the holder process is kept, and a dead holder is freed by releasing it as its owner', async () => {
      const held = lease('a', { holder: { host: 'host-1', pid: 4242 } });
      expect(await catalog.acquireLease(held, T0)).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(held);
      // What a taker does once it knows the holder's process is gone (lease.ts): release as that owner, then take.
      await catalog.releaseLease('gc', held.owner);
      expect(await catalog.acquireLease(lease('b'), at(1))).toBeUndefined();
      expect((await catalog.getLease('gc'))!.owner).toBe('b');
    });

    it('leases: release by another owner is a no-op; release by the holder frees it', async () => {
      await catalog.releaseLease('gc', 'a'); // nothing to release: no error
      await catalog.acquireLease(lease('a'), T0);
      await catalog.releaseLease('gc', 'b');
      expect(await catalog.getLease('gc')).toEqual(lease('a'));
      expect(await catalog.acquireLease(lease('b'), at(1))).toEqual(lease('a'));
      await catalog.releaseLease('gc', 'a');
      expect(await catalog.getLease('gc')).toBeUndefined();
      expect(await catalog.acquireLease(lease('b'), at(1))).toBeUndefined();
      // A late second release by the old holder must not free the new holder's lease.
      await catalog.releaseLease('gc', 'a');
      expect(await catalog.getLease('gc')).toEqual(lease('b'));
    });

    it('leases: of 5 owners acquiring at once, exactly one gets it and the others see that one', async () => {
      const owners = ['o1', 'o2', 'o3', 'o4', 'o5'];
      const results = await Promise.all(owners.map((owner) => catalog.acquireLease(lease(owner), T0)));
      const winners = owners.filter((_, i) => results[i] === undefined);
      expect(winners).toHaveLength(1);
      const held = lease(winners[0]!);
      expect(await catalog.getLease('gc')).toEqual(held);
      expect(results.filter((r) => r !== undefined)).toEqual(Array(4).fill(held));
    });

    it('restores: create, get, idempotent create, conflicting create', async () => {
      await catalog.createRestore(restoreRecord('r1'));
      await catalog.createRestore(restoreRecord('r1'));
      expect(await catalog.getRestore('r1')).toEqual(restoreRecord('r1'));
      expect(await catalog.getRestore('r2')).toBeUndefined();
      await expect(catalog.createRestore(restoreRecord('r1', { backupId: 'b2' }))).rejects.toBeInstanceOf(
        CatalogConflictError,
      );
      expect(await catalog.listBackups()).toEqual([]);
    });

    it('restores: finish, repeat is a no-op, committed → failed refused', async () => {
      await catalog.createRestore(restoreRecord('r1'));
      const done = await catalog.finishRestore('r1', { state: 'committed', finishedAt: '2025-03-02T11:00:00.000Z' });
      expect(done).toEqual({ ...restoreRecord('r1'), state: 'committed', finishedAt: '2025-03-02T11:00:00.000Z' });
      expect(await catalog.finishRestore('r1', { state: 'committed' })).toEqual(done);
      await expect(catalog.finishRestore('r1', { state: 'failed' })).rejects.toBeInstanceOf(CatalogConflictError);
      expect(await catalog.getRestore('r1')).toEqual(done);
      await expect(catalog.finishRestore('nope', { state: 'failed' })).rejects.toThrow('nope');
    });

    it('20 racing finishRestore calls (half committed, half failed): exactly one state wins', async () => {
      await catalog.createRestore(restoreRecord('r1'));
      const finish = (i: number) =>
        catalog.finishRestore(
          'r1',
          i % 2 ? { state: 'failed', error: `caller ${i}` } : { state: 'committed', warnings: [`caller ${i}`] },
        );
      await expectOneWinner(finish, async () => (await catalog.getRestore('r1'))!);
    });
  });
}

/**
 * Runs 20 finish calls at once (even i: committed, odd i: failed). Exactly one state wins;
 * every caller asking for it succeeds with the stored record (a repeat of the same transition),
 * every other caller gets CatalogConflictError, and the stored fields come from one caller only.
 */
async function expectOneWinner<T extends { state: string }>(
  finish: (i: number) => Promise<T>,
  read: () => Promise<T>,
): Promise<void> {
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => finish(i)));
  const stored = await read();
  expect(['committed', 'failed']).toContain(stored.state);
  const winners = JSON.stringify(stored).match(/caller \d+/g);
  expect(winners).toHaveLength(1);
  results.forEach((result, i) => {
    const wanted = i % 2 ? 'failed' : 'committed';
    if (wanted === stored.state) {
      expect(result.status, `caller ${i}`).toBe('fulfilled');
      if (result.status === 'fulfilled') expect(result.value.state).toBe(stored.state);
    } else {
      expect(result.status, `caller ${i}`).toBe('rejected');
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(CatalogConflictError);
    }
  });
}
