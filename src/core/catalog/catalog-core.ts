// BackupCatalog's rules, written once (the Powertools idempotency model: an abstract base with the
// shared logic over a few primitives per backend). Here: id validation, idempotent create, the
// lifecycle moves and their errors, list order, and leases. A backend (file-catalog.ts,
// dynamodb-catalog.ts) implements only the six storage primitives below — reads, and writes that
// are single-item and conditional (no transactions) — and keeps its own strengths behind them.
import { BackupNotFoundError, CatalogConflictError } from '../errors.ts';
import type { BackupCatalog, BackupRecord, CollectionRecord, Lease, RestoreRecord } from '../ports/catalog.ts';
import { ABSENT, fieldIs, type Condition } from './conditions.ts';
import { itemId, type ItemId, type ItemKind, type ItemOf } from './items.ts';
import { leaseFreeFor, leaseHeldBy } from './leases.ts';
import { EXPIRE, FINISH, checkTarget, idTaken, wrongState, type Move } from './lifecycle.ts';
import { byName, byStartTime, canonical, compare, plain } from './order.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';
import { bySegmentOrder, segmentIdPrefix, segmentItemId } from './segments.ts';

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };
type RunKind = 'backup' | 'restore';

export abstract class CatalogCore implements BackupCatalog {
  /** Where the catalog is, for messages: a directory, or `dynamodb://<table>`. */
  abstract readonly location: string;

  // ---- The primitives. Every read is strongly consistent unless it says otherwise. ----

  /** The current record, or `undefined` when there is none. */
  protected abstract readItem<K extends ItemKind>(kind: K, id: ItemId): Promise<ItemOf<K> | undefined>;

  /** Writes `record` whole if `condition` holds on the current item; false when it does not. */
  protected abstract putItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    record: ItemOf<K>,
    condition: Condition,
  ): Promise<boolean>;

  /**
   * Merges `changes` into the item if `condition` holds (a field whose value is undefined is
   * removed) and returns the new record; `undefined` when it does not hold (or there is no item).
   */
  protected abstract updateItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    changes: Partial<ItemOf<K>>,
    condition: Condition,
  ): Promise<ItemOf<K> | undefined>;

  /** Removes the item if `condition` holds on it; otherwise leaves it (no error). */
  protected abstract deleteItem(kind: ItemKind, id: ItemId, condition: Condition): Promise<void>;

  /** Every readable item of a kind, in any order; may lag behind recent writes. */
  protected abstract listItems<K extends ItemKind>(kind: K): Promise<ItemOf<K>[]>;

  /** Every item of a kind whose `field` is `value`, in any order, seeing every completed write. */
  protected abstract listItemsConsistently<K extends ItemKind>(
    kind: K,
    field: string,
    value: string,
  ): Promise<ItemOf<K>[]>;

  // ---- BackupCatalog ----

  async createBackup(record: BackupRecord): Promise<void> {
    return this.createOnce('backup', record.backupId, record);
  }

  async finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> {
    return this.move('backup', backupId, FINISH, { ...changes, backupId });
  }

  async getBackup(backupId: string): Promise<BackupRecord | undefined> {
    return this.readItem('backup', itemId('backup', backupId));
  }

  async listBackups(): Promise<BackupRecord[]> {
    return (await this.listItems('backup')).sort(byStartTime);
  }

  async listRunningBackups(): Promise<BackupRecord[]> {
    return (await this.listItemsConsistently('backup', 'state', FINISH.from)).sort(byStartTime);
  }

  async createRestore(record: RestoreRecord): Promise<void> {
    return this.createOnce('restore', record.restoreId, record);
  }

  async finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> {
    return this.move('restore', restoreId, FINISH, { ...changes, restoreId });
  }

  async getRestore(restoreId: string): Promise<RestoreRecord | undefined> {
    return this.readItem('restore', itemId('restore', restoreId));
  }

  async listRunningRestores(): Promise<RestoreRecord[]> {
    return (await this.listItemsConsistently('restore', 'state', FINISH.from)).sort(
      (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || compare(a.restoreId, b.restoreId),
    );
  }

  async expireBackup(backupId: string, expiredAt: string): Promise<BackupRecord> {
    return this.move('backup', backupId, EXPIRE, { state: 'expired', expiredAt });
  }

  /** The same write as createBackup: a create stores the record in whatever state it has. */
  async importBackup(record: BackupRecord): Promise<void> {
    return this.createOnce('backup', record.backupId, record);
  }

  async createCollection(record: CollectionRecord): Promise<void> {
    return this.createOnce('collection', record.name, record);
  }

  async getCollection(name: string): Promise<CollectionRecord | undefined> {
    return this.readItem('collection', itemId('collection', name));
  }

  async listCollections(): Promise<CollectionRecord[]> {
    return (await this.listItems('collection')).sort(byName);
  }

  async acquireLease(lease: Lease, now: Date): Promise<Lease | undefined> {
    const id = itemId('lease', lease.name);
    for (;;) {
      if (await this.putItem('lease', id, plain(lease), leaseFreeFor(lease.owner, now))) return undefined;
      const holder = await this.readItem('lease', id);
      if (holder) return holder;
      // Released between our write and our read: it is free again, so try again.
    }
  }

  async getLease(name: string): Promise<Lease | undefined> {
    return this.readItem('lease', itemId('lease', name));
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    // Not ours (expired and taken by another, or already released): left as it is.
    return this.deleteItem('lease', itemId('lease', name), leaseHeldBy(owner));
  }

  async recordSegment(record: SegmentRecord): Promise<void> {
    const id = segmentItemId(record);
    return this.createOnce('segment', id, record).catch((err: unknown) => {
      if (!(err instanceof CatalogConflictError)) throw err;
      throw new CatalogConflictError(
        `Cannot record segment ${id} in the catalog at ${this.location}: another record of that place exists with other content, so two archivers wrote this chain. Run one archiver per collection (\`pitr status\` checks the chain in the repository, which is what restores read).`,
        { cause: err },
      );
    });
  }

  async listSegments(collection: string, chain?: string): Promise<SegmentRecord[]> {
    return (await this.listSegmentItems(segmentIdPrefix(collection, chain))).sort(bySegmentOrder);
  }

  async lastSegment(collection: string): Promise<SegmentRecord | undefined> {
    return (await this.listSegments(collection)).at(-1);
  }

  /**
   * Segment records whose id starts with `prefix`, in any order; may lag behind recent writes.
   * This lists every segment and filters; a backend with an index on ids overrides it.
   */
  protected async listSegmentItems(prefix: string): Promise<SegmentRecord[]> {
    return (await this.listItems('segment')).filter((r) => segmentItemId(r).startsWith(prefix));
  }

  // ---- The rules ----

  /** Writes the item if absent; the identical record again is a retry (success), any other a conflict. */
  private async createOnce<K extends ItemKind>(kind: K, id: string, record: ItemOf<K>): Promise<void> {
    const key = itemId(kind, id);
    const stored = plain(record);
    for (;;) {
      if (await this.putItem(kind, key, stored, ABSENT)) return;
      const current = await this.readItem(kind, key);
      if (current === undefined) continue; // deleted between our write and our read
      if (canonical(current) === canonical(stored)) return;
      throw idTaken(kind, id);
    }
  }

  /**
   * Moves item `id` along `move` to `changes.state`, merging `changes`. A repeat of the same move
   * is a no-op that returns the stored record: the first writer's fields stay.
   */
  private async move<K extends RunKind>(
    kind: K,
    id: string,
    move: Move,
    changes: Partial<ItemOf<K>> & { state: string },
  ): Promise<ItemOf<K>> {
    const key = itemId(kind, id);
    checkTarget(move, kind, id, changes.state);
    const condition = fieldIs('state', move.from);
    // At most two rounds: the item can only be missing, in `from`, or out of `from` for good.
    for (;;) {
      const moved = await this.updateItem(kind, key, changes, condition);
      if (moved) return moved;
      const current = await this.readItem(kind, key);
      if (!current) throw this.notFound(kind, id);
      if (current.state === move.from) continue; // created after our write failed: try again
      if (current.state === changes.state) return current;
      throw wrongState(move, kind, id, changes.state, current.state);
    }
  }

  private notFound(kind: RunKind, id: string): Error {
    return kind === 'backup'
      ? new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`)
      : new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`);
  }
}
