// The BackupCatalog contract: the file catalog and the DynamoDB catalog run this same suite.
// Each test gets a fresh, empty catalog.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupNotFoundError, CatalogConflictError } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, RestoreRecord } from '#core/ports/catalog.ts';

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

export function catalogContract(name: string, make: () => Promise<CatalogFixture>): void {
  describe(`BackupCatalog contract: ${name}`, () => {
    let catalog: BackupCatalog;
    let fixture: CatalogFixture;
    beforeEach(async () => {
      fixture = await make();
      catalog = fixture.catalog;
    });
    afterEach(() => fixture.cleanup());

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
