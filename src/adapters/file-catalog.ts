// BackupCatalog in a local directory: the rules are the catalog core's (src/core/catalog/); this
// backend gives it the primitives, over write-once version files (file-catalog/item-versions.ts):
//   <dir>/backups/<backupId>/000001.json, 000002.json, ...
//   <dir>/restores/<restoreId>/…   <dir>/collections/<name>/…   <dir>/leases/<name>/…
// A conditional write reads the current version, checks the core's condition on it and creates
// the next version exclusively (a compare-and-swap), so it has the DynamoDB catalog's semantics.
// Its own strengths: a damaged item is unreadable alone (`get` names the file, lists leave it
// out and `unreadableItems` names it), and a write that may create the item (a create, a lease
// taken) writes the next version over it: the repair `catalog rebuild` makes. On a full disk,
// lease writes use a reserve (file-catalog/disk-reserve.ts), so gc can always take its lease.
import { join, resolve } from 'node:path';
import { CatalogCore } from '#core/catalog/catalog-core.ts';
import { holds, type Condition } from '#core/catalog/conditions.ts';
import type { ItemId, ItemKind, ItemOf } from '#core/catalog/items.ts';
import { DiskReserve } from '#adapters/file-catalog/disk-reserve.ts';
import { ItemVersions, type WriteOptions } from '#adapters/file-catalog/item-versions.ts';

export class FileCatalog extends CatalogCore {
  readonly location: string;
  private readonly items: ItemVersions;
  private readonly reserve: DiskReserve;
  private reserveChecked = false;

  constructor(dir: string) {
    super();
    this.location = resolve(dir);
    this.items = new ItemVersions(this.location);
    this.reserve = new DiskReserve(join(this.location, 'leases', '.reserve'));
  }

  /** What the lists leave out: each damaged backup, collection and restore, naming its file. */
  async unreadableItems(): Promise<string[]> {
    const kinds: ItemKind[] = ['backup', 'collection', 'restore'];
    const all = await Promise.all(kinds.map((kind) => this.items.all(kind)));
    return all.flat().flatMap((item) => (item.damaged ? [item.damaged.message] : []));
  }

  protected override async readItem<K extends ItemKind>(kind: K, id: ItemId): Promise<ItemOf<K> | undefined> {
    const current = await this.items.current(kind, id);
    if (current?.damaged) throw current.damaged;
    return current?.record as ItemOf<K> | undefined;
  }

  protected override async putItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    record: ItemOf<K>,
    condition: Condition,
  ): Promise<boolean> {
    const { written } = await this.items.write(kind, id, this.writeOptions(kind, condition), (current) =>
      holds(condition, current) ? record : undefined,
    );
    if (kind === 'lease' && written) await this.reserve.keep();
    if (kind === 'backup' && !this.reserveChecked) {
      // The first backup a catalog records makes the reserve, before any gc needs it.
      this.reserveChecked = true;
      await this.reserve.keep();
    }
    return written;
  }

  protected override async updateItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    changes: Partial<ItemOf<K>>,
    condition: Condition,
  ): Promise<ItemOf<K> | undefined> {
    const { record, written } = await this.items.write(kind, id, this.writeOptions(kind, condition), (current) =>
      current && holds(condition, current) ? { ...current, ...changes } : undefined,
    );
    return written ? (record as ItemOf<K>) : undefined;
  }

  protected override async deleteItem(kind: ItemKind, id: ItemId, condition: Condition): Promise<void> {
    await this.items.write(kind, id, this.writeOptions(kind, condition), (current) =>
      current && holds(condition, current) ? this.items.deleted(current) : undefined,
    );
    if (kind === 'lease') await this.reserve.keep();
  }

  protected override async listItems<K extends ItemKind>(kind: K): Promise<ItemOf<K>[]> {
    const items = await this.items.all(kind);
    return items.flatMap((item) => (item.record ? [item.record as ItemOf<K>] : []));
  }

  /** Reads every item's current version from disk, so it is as current as readItem. */
  protected override async listItemsConsistently<K extends ItemKind>(
    kind: K,
    field: string,
    value: string,
  ): Promise<ItemOf<K>[]> {
    return (await this.listItems(kind)).filter((item) => (item as unknown as Record<string, unknown>)[field] === value);
  }

  private writeOptions(kind: ItemKind, condition: Condition): WriteOptions {
    return {
      // A condition that accepts no item accepts a damaged one: it names no holder and no state.
      overDamaged: holds(condition, undefined),
      onDiskFull: kind === 'lease' ? () => this.reserve.use() : undefined,
    };
  }
}
