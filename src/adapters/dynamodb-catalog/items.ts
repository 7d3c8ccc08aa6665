// How catalog records become table items and back (key names in aws-resources.ts):
//   pk `BACKUP#<backupId>`   sk `BACKUP`     kind `backup`      startedAt …  + every BackupRecord field
//   pk `RESTORE#<restoreId>` sk `RESTORE`    kind `restore`     startedAt …  + every RestoreRecord field
//   pk `COLLECTION#<name>`   sk `COLLECTION` kind `collection`  startedAt = createdAt + every CollectionRecord field
//   pk `LEASE#<name>`        sk `LEASE`      name owner purpose acquiredAt holder leaseExpiresAt leaseExpiresAtMs
//   pk `SEGMENT#<id>`        sk `SEGMENT`    kind `segment`     startedAt = the id (LSN order) + every SegmentRecord field
// Record fields are top-level attributes, so a state change is one UpdateItem. A lease's expiry
// is stored as leaseExpiresAt, not `expiresAt`, which is the table's TTL attribute (epoch
// seconds), because an expired lease must stay readable; leaseExpiresAtMs is the same instant as
// a number, so a condition compares instants, not text. Nothing lists leases: they have no kind.
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import type { ItemId, ItemKind, ItemOf } from '#core/catalog/items.ts';
import type { Lease } from '#core/ports/catalog.ts';

export type Item = Record<string, unknown>;

/** The item's key: one item per record, its kind as the sort key. */
export function itemKey(kind: ItemKind, id: ItemId): Record<string, string> {
  const sk = kind.toUpperCase();
  return { [T.partitionKey]: `${sk}#${id}`, [T.sortKey]: sk };
}

/** The item that stores `record`: key, index attributes and the record's fields. */
export function toItem<K extends ItemKind>(kind: K, id: ItemId, record: ItemOf<K>): Item {
  if (kind === 'lease') {
    const { expiresAt, ...fields } = record as Lease;
    return { ...fields, ...itemKey(kind, id), leaseExpiresAt: expiresAt, leaseExpiresAtMs: Date.parse(expiresAt) };
  }
  // A collection has no startedAt, the index's sort key: it is listed by its createdAt.
  // A segment is listed by its id, so a collection's or a chain's records are one Query (begins_with).
  const listed =
    kind === 'collection'
      ? { [T.listIndexSortKey]: (record as ItemOf<'collection'>).createdAt }
      : kind === 'segment'
        ? { [T.listIndexSortKey]: id }
        : {};
  return { ...record, ...listed, ...itemKey(kind, id), [T.listIndexPartitionKey]: kind };
}

/** The record an item holds: the item without the table's own attributes. */
export function fromItem<K extends ItemKind>(kind: K, item: Item): ItemOf<K> {
  const {
    [T.partitionKey]: _pk,
    [T.sortKey]: _sk,
    [T.listIndexPartitionKey]: _kind,
    [T.ttlAttribute]: _ttl,
    ...record
  } = item;
  if (kind === 'lease') {
    const { leaseExpiresAt, leaseExpiresAtMs: _ms, ...fields } = record;
    return { ...fields, expiresAt: leaseExpiresAt } as unknown as ItemOf<K>;
  }
  if (kind === 'collection' || kind === 'segment') delete record[T.listIndexSortKey];
  return record as unknown as ItemOf<K>;
}

/** The attribute that holds a record field; for `due` conditions, the one holding it as a number. */
export function attributeOf(kind: ItemKind, field: string, asNumber = false): string {
  if (kind === 'lease' && field === 'expiresAt') return asNumber ? 'leaseExpiresAtMs' : 'leaseExpiresAt';
  if (asNumber)
    throw new Error(`The DynamoDB catalog stores no ${kind} field ${field} as a number to compare instants with.`);
  return field;
}
