// The BackupCatalog rules the catalog core owns (src/core/catalog/), pinned on every backend:
// id validation, the exact errors of creates and moves, the allowed moves, merge semantics, list
// order and leases after release. Run beside catalog-contract.ts by each backend's test file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupNotFoundError, CatalogConflictError, InvalidKeyError } from '#core/errors.ts';
import type { BackupCatalog, Lease } from '#core/ports/catalog.ts';
import { backupRecord, collectionRecord, restoreRecord, type CatalogFixture } from './catalog-contract.ts';

const T0 = new Date('2025-03-01T10:00:00.000Z');
const lease = (owner: string, more: Partial<Lease> = {}): Lease => ({
  name: 'gc',
  owner,
  purpose: 'gc',
  acquiredAt: T0.toISOString(),
  expiresAt: new Date(T0.getTime() + 5 * 60_000).toISOString(),
  ...more,
});

export function catalogRulesContract(name: string, make: () => Promise<CatalogFixture>): void {
  describe(`BackupCatalog rules: ${name}`, () => {
    let catalog: BackupCatalog;
    let fixture: CatalogFixture;
    beforeEach(async () => {
      fixture = await make();
      catalog = fixture.catalog;
    });
    afterEach(() => fixture.cleanup());

    it('every method refuses an unsafe id with InvalidKeyError naming kind and id, and writes nothing', async () => {
      const bad = '../x';
      const calls: [string, () => Promise<unknown>][] = [
        ['backup', () => catalog.createBackup(backupRecord(bad))],
        ['backup', () => catalog.importBackup(backupRecord(bad, { state: 'committed' }))],
        ['backup', () => catalog.getBackup(bad)],
        ['backup', () => catalog.finishBackup(bad, { state: 'committed' })],
        ['backup', () => catalog.expireBackup(bad, '2025-04-01T00:00:00.000Z')],
        ['restore', () => catalog.createRestore(restoreRecord(bad))],
        ['restore', () => catalog.getRestore(bad)],
        ['restore', () => catalog.finishRestore(bad, { state: 'failed' })],
        ['collection', () => catalog.createCollection(collectionRecord(bad))],
        ['collection', () => catalog.getCollection(bad)],
        ['lease', () => catalog.acquireLease(lease('a', { name: bad }), T0)],
        ['lease', () => catalog.getLease(bad)],
        ['lease', () => catalog.releaseLease(bad, 'a')],
      ];
      for (const [kind, call] of calls) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, kind).toBeInstanceOf(InvalidKeyError);
        expect((err as Error).message).toBe(
          `Invalid ${kind} id "../x": use letters, digits and . _ : - (not first), at most 200 characters.`,
        );
      }
      expect(await catalog.listBackups()).toEqual([]);
      expect(await catalog.listCollections()).toEqual([]);
    });

    it('an id of 200 safe characters is valid, 201 is not; ":" "." "-" may follow the first character', async () => {
      const longest = `b${'x'.repeat(199)}`;
      await catalog.createBackup(backupRecord(longest));
      expect((await catalog.getBackup(longest))?.backupId).toBe(longest);
      await expect(catalog.createBackup(backupRecord(`${longest}x`))).rejects.toBeInstanceOf(InvalidKeyError);
      await catalog.createBackup(backupRecord('_a.b:c-d'));
      await expect(catalog.createBackup(backupRecord('-a'))).rejects.toBeInstanceOf(InvalidKeyError);
    });

    it('a conflicting create names the kind and id and says to use a new id', async () => {
      await catalog.createBackup(backupRecord('b1'));
      await catalog.createRestore(restoreRecord('r1'));
      await catalog.createCollection(collectionRecord('nightly'));
      await expect(catalog.createBackup(backupRecord('b1', { source: 'x:1/y' }))).rejects.toThrow(
        'Cannot create backup b1: it already exists with different content. Use a new id.',
      );
      await expect(catalog.createRestore(restoreRecord('r1', { target: 'x:1/y' }))).rejects.toThrow(
        'Cannot create restore r1: it already exists with different content. Use a new id.',
      );
      await expect(catalog.createCollection(collectionRecord('nightly', { source: 'other' }))).rejects.toThrow(
        'Cannot create collection nightly: it already exists with different content. Use a new id.',
      );
    });

    it('a create compares content, not form: key order and undefined fields do not matter; a later state does', async () => {
      const record = backupRecord('b1', { warnings: ['w'] });
      await catalog.createBackup(record);
      const reordered = Object.fromEntries(
        Object.entries({ ...record, error: undefined }).reverse(),
      ) as unknown as typeof record;
      await catalog.createBackup(reordered);
      await catalog.finishBackup('b1', { state: 'committed' });
      // The running record again, once committed: another record now, so a conflict.
      await expect(catalog.createBackup(record)).rejects.toBeInstanceOf(CatalogConflictError);
    });

    it('a refused move names the item, its state, and the only state it can move from', async () => {
      await catalog.createBackup(backupRecord('b1'));
      await catalog.finishBackup('b1', { state: 'failed', error: 'boom' });
      await expect(catalog.finishBackup('b1', { state: 'committed' })).rejects.toThrow(
        'Cannot mark backup b1 committed: it is failed, and only a running backup can become committed.',
      );
      await expect(catalog.expireBackup('b1', '2025-04-01T00:00:00.000Z')).rejects.toThrow(
        'Cannot mark backup b1 expired: it is failed, and only a committed backup can become expired.',
      );
      await catalog.createRestore(restoreRecord('r1'));
      await catalog.finishRestore('r1', { state: 'committed' });
      await expect(catalog.finishRestore('r1', { state: 'failed' })).rejects.toThrow(
        'Cannot mark restore r1 failed: it is committed, and only a running restore can become failed.',
      );
    });

    it('an expired backup is final: neither finish moves it', async () => {
      await catalog.importBackup(backupRecord('b1', { state: 'expired', expiredAt: '2025-04-01T00:00:00.000Z' }));
      await expect(catalog.finishBackup('b1', { state: 'failed' })).rejects.toBeInstanceOf(CatalogConflictError);
      await expect(catalog.finishBackup('b1', { state: 'committed' })).rejects.toBeInstanceOf(CatalogConflictError);
      expect((await catalog.getBackup('b1'))?.state).toBe('expired');
    });

    it('a finish to a state a run cannot end in is refused, and changes nothing', async () => {
      await catalog.createBackup(backupRecord('b1'));
      const toRunning = { state: 'running' } as unknown as { state: 'committed' };
      await expect(catalog.finishBackup('b1', toRunning)).rejects.toThrow(
        'Cannot mark backup b1 running: a running backup can only become committed or failed.',
      );
      const toExpired = { state: 'expired' } as unknown as { state: 'committed' };
      await expect(catalog.finishBackup('b1', toExpired)).rejects.toBeInstanceOf(CatalogConflictError);
      expect(await catalog.getBackup('b1')).toEqual(backupRecord('b1'));
    });

    it('unknown ids: a backup is BackupNotFoundError, a restore a conflict that says to create it first', async () => {
      const backup = await catalog.finishBackup('nope', { state: 'failed' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(backup).toBeInstanceOf(BackupNotFoundError);
      expect((backup as Error).message).toMatch(/^Backup nope is not in the catalog at .+\.$/);
      const restore = await catalog.finishRestore('nope', { state: 'failed' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(restore).toBeInstanceOf(CatalogConflictError);
      expect((restore as Error).message).toMatch(/^Restore nope is not in the catalog at .+; create it first\.$/);
    });

    it('a move merges its changes: an undefined change removes the field, and the id cannot change', async () => {
      await catalog.createBackup(backupRecord('b1', { warnings: ['retrying'], error: 'first attempt' }));
      const changes = { state: 'committed', error: undefined, backupId: 'other', manifestKey: 'm' } as const;
      const committed = await catalog.finishBackup('b1', changes);
      expect(committed).toEqual(backupRecord('b1', { state: 'committed', warnings: ['retrying'], manifestKey: 'm' }));
      expect(await catalog.getBackup('b1')).toEqual(committed);
      expect(await catalog.getBackup('other')).toBeUndefined();
    });

    it('lists order backups by instant across UTC offsets, then text, then id; collections by code unit', async () => {
      // 11:00+02:00 is 09:00Z: earlier than 10:00Z although its text sorts later.
      await catalog.createBackup(backupRecord('utc', { startedAt: '2025-03-01T10:00:00.000Z' }));
      await catalog.createBackup(backupRecord('plus2', { startedAt: '2025-03-01T11:00:00.000+02:00' }));
      await catalog.createBackup(backupRecord('same-b', { startedAt: '2025-03-01T08:00:00.000Z' }));
      await catalog.createBackup(backupRecord('same-a', { startedAt: '2025-03-01T09:00:00.000+01:00' }));
      const order = ['same-b', 'same-a', 'plus2', 'utc'];
      expect((await catalog.listBackups()).map((b) => b.backupId)).toEqual(order);
      expect((await catalog.listRunningBackups()).map((b) => b.backupId)).toEqual(order);
      for (const name of ['b', 'a', 'B', '_z']) await catalog.createCollection(collectionRecord(name));
      expect((await catalog.listCollections()).map((c) => c.name)).toEqual(['B', '_z', 'a', 'b']);
    });

    it('leases: a released lease is gone for everyone, and its old holder can take it again', async () => {
      await catalog.acquireLease(lease('a', { holder: { host: 'h', pid: 1 } }), T0);
      await catalog.releaseLease('gc', 'a');
      expect(await catalog.getLease('gc')).toBeUndefined();
      await catalog.releaseLease('gc', 'a'); // a second release of nothing: no error
      expect(await catalog.acquireLease(lease('a'), T0)).toBeUndefined();
      expect(await catalog.getLease('gc')).toEqual(lease('a'));
    });

    it('leases: expiry compares instants, not text (a holder written with a UTC offset)', async () => {
      // 12:00+02:00 is 10:00Z: expired at 10:00Z although its text sorts after it.
      const held = lease('a', { expiresAt: '2025-03-01T12:00:00.000+02:00' });
      await catalog.acquireLease(held, new Date('2025-03-01T09:00:00.000Z'));
      expect(await catalog.acquireLease(lease('b'), new Date('2025-03-01T09:59:59.999Z'))).toEqual(held);
      expect(await catalog.acquireLease(lease('b'), new Date('2025-03-01T10:00:00.000Z'))).toBeUndefined();
    });
  });
}
