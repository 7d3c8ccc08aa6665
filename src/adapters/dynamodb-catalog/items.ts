// Backups, restores and collections share one lifecycle, so one class stores all three: create is
// a PutItem only if absent, each state change one conditional UpdateItem (record fields are
// top-level attributes), and listing a Query of the byKind index rather than a Scan.
import { PutCommand, QueryCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import { CatalogConflictError } from '#core/errors.ts';
import type { CatalogTable, Item } from './table.ts';

export type Stateful = { state: string };

/** The items of one kind, listed through the byKind index. */
export class CatalogItems<R extends object> {
  constructor(
    private readonly table: CatalogTable,
    private readonly kind: string,
    private readonly idOf: (record: R) => string,
    private readonly notFound: (id: string) => Error,
    /** For a record without a startedAt of its own: the value the index orders it by. */
    private readonly listedAt?: (record: R) => string,
  ) {}

  async create(record: R): Promise<void> {
    const id = this.idOf(record);
    const listed = this.listedAt ? { [T.listIndexSortKey]: this.listedAt(record) } : {};
    const item = { ...plain(record), ...listed, ...this.table.key(this.kind, id), [T.listIndexPartitionKey]: this.kind };
    const written = await this.table.conditional(this.kind, () =>
      this.table.client.send(new PutCommand({
        TableName: this.table.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': T.partitionKey },
      })),
    );
    if (written) return;
    const current = await this.get(id);
    if (current && encode(current) === encode(plain(record))) return; // retry of the same create
    throw new CatalogConflictError(`Cannot create ${this.kind} ${id}: it already exists with different content. Use a new id.`);
  }

  /**
   * Moves item `id` from state `from` to `changes.state`, merging `changes` (a change whose value
   * is undefined removes the field, as in the file catalog). A repeat of the same move is a no-op
   * that returns the stored record: the first writer's fields stay.
   */
  async transition(id: string, from: string, changes: Partial<R> & Stateful): Promise<R> {
    const names: Record<string, string> = { '#pk': T.partitionKey, '#state': 'state' };
    const values: Record<string, unknown> = { ':from': from };
    const set: string[] = [];
    const remove: string[] = [];
    Object.entries(changes).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      if (value === undefined) remove.push(`#f${i}`);
      else {
        values[`:v${i}`] = plain(value);
        set.push(`#f${i} = :v${i}`);
      }
    });
    const update = `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`;
    // At most two rounds: the item can only be missing, in `from`, or out of `from` for good.
    for (;;) {
      const out = await this.table.conditional(this.kind, () =>
        this.table.client.send(new UpdateCommand({
          TableName: this.table.tableName,
          Key: this.table.key(this.kind, id),
          UpdateExpression: update,
          ConditionExpression: 'attribute_exists(#pk) AND #state = :from',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        })),
      );
      if (out) return this.record(out.Attributes!);
      const current = (await this.get(id)) as (R & Stateful) | undefined;
      if (!current) throw this.notFound(id);
      if (current.state === from) continue; // created after our write failed: try again
      if (current.state === changes.state) return current;
      throw new CatalogConflictError(
        `Cannot mark ${this.kind} ${id} ${changes.state}: it is ${current.state}, and only a ${from} ${this.kind} can become ${changes.state}.`,
      );
    }
  }

  async get(id: string): Promise<R | undefined> {
    const item = await this.table.get(this.kind, id);
    return item ? this.record(item) : undefined;
  }

  /** Every item of this kind, in index order. */
  async list(): Promise<R[]> {
    const items = await this.table.allPages(this.kind, (ExclusiveStartKey) =>
      this.table.client.send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: T.listIndex,
          KeyConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey },
          ExpressionAttributeValues: { ':kind': this.kind },
          ExclusiveStartKey,
        }),
      ),
    );
    return items.map((item) => this.record(item));
  }

  /**
   * Every item of this kind whose `field` equals `value`, by a strongly consistent Scan of the
   * base table (sees every write completed before it began), in no particular order.
   */
  async scanConsistent(field: string, value: string): Promise<R[]> {
    const items = await this.table.allPages(this.kind, (ExclusiveStartKey) =>
      this.table.client.send(
        new ScanCommand({
          TableName: this.table.tableName,
          ConsistentRead: true,
          FilterExpression: '#kind = :kind AND #field = :value',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey, '#field': field },
          ExpressionAttributeValues: { ':kind': this.kind, ':value': value },
          ExclusiveStartKey,
        }),
      ),
    );
    return items.map((item) => this.record(item));
  }

  /** The record an item holds: the item without the table's own attributes. */
  private record(item: Item): R {
    const { [T.partitionKey]: _pk, [T.sortKey]: _sk, [T.listIndexPartitionKey]: _kind, [T.ttlAttribute]: _ttl, ...record } = item;
    if (this.listedAt) delete record[T.listIndexSortKey];
    return record as unknown as R;
  }
}

/** A JSON-plain copy (undefined dropped), which is what the file catalog stores and returns. */
function plain<V>(value: V): V {
  return JSON.parse(JSON.stringify(value)) as V;
}

/** Canonical JSON (sorted keys) so equal records encode equally. */
function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => compare(a, b))) : v,
  );
}

/** Code-unit order, as the file catalog sorts. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
