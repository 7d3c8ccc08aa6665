// BackupCatalog in one DynamoDB table, with single-item conditional writes only (no
// transactions), the same semantics as the file catalog. Items (key names in aws-resources.ts):
//   pk `BACKUP#<backupId>`   sk `BACKUP`     kind `backup`      startedAt …  + every BackupRecord field
//   pk `RESTORE#<restoreId>` sk `RESTORE`    kind `restore`     startedAt …  + every RestoreRecord field
//   pk `COLLECTION#<name>`   sk `COLLECTION` kind `collection`  startedAt = createdAt + every CollectionRecord field
//   pk `LEASE#<name>`        sk `LEASE`      name owner purpose acquiredAt leaseExpiresAt leaseExpiresAtMs
// Record fields are top-level attributes, so a state change is one UpdateItem that SETs the
// changes. create = PutItem if attribute_not_exists(pk); finish = UpdateItem if state = running;
// expire = UpdateItem if state = committed. The GSI `byKind` (kind, startedAt) lists one kind
// without a Scan; a collection copies its createdAt into startedAt, the index's sort key. The
// index is eventually consistent, so the one list that must not miss a recent write, gc's list
// of running backups, is a Scan of the table with ConsistentRead instead.
// Leases have no kind (nothing lists them). A lease's expiry is stored as leaseExpiresAt because
// `expiresAt` is the table's TTL attribute (epoch seconds) and an expired lease must stay
// readable; leaseExpiresAtMs is the same instant as a number, so the condition compares instants,
// not text. acquire = PutItem if absent, expired or ours; release = DeleteItem if ours.
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import { BackupNotFoundError, CatalogConflictError, InvalidKeyError, TidemarkError, TransientError, redactSecrets } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, CollectionRecord, Lease, RestoreRecord } from '#core/ports/catalog.ts';

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };
type Stateful = { state: string };

export interface DynamoDbCatalogOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoDbCatalog implements BackupCatalog {
  readonly location: string;
  private readonly table: CatalogTable;
  private readonly backups: CatalogItems<BackupRecord>;
  private readonly restores: CatalogItems<RestoreRecord>;
  private readonly collections: CatalogItems<CollectionRecord>;

  constructor(options: DynamoDbCatalogOptions) {
    this.location = `dynamodb://${options.tableName}`;
    const table = (this.table = new CatalogTable(options.client, options.tableName, this.location));
    this.backups = new CatalogItems(table, 'backup', (r) => r.backupId, (id) =>
      new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`));
    this.restores = new CatalogItems(table, 'restore', (r) => r.restoreId, (id) =>
      new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`));
    this.collections = new CatalogItems(table, 'collection', (r) => r.name, (id) =>
      new CatalogConflictError(`Collection ${id} is not in the catalog at ${this.location}.`), (r) => r.createdAt);
  }

  createBackup(record: BackupRecord): Promise<void> { return this.backups.create(record); }
  finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> { return this.backups.transition(backupId, 'running', { ...changes, backupId }); }
  getBackup(backupId: string): Promise<BackupRecord | undefined> { return this.backups.get(backupId); }
  async listBackups(): Promise<BackupRecord[]> {
    // The index orders by startedAt text only; ties and mixed UTC offsets need the full order.
    return (await this.backups.list()).sort(byStartTime);
  }
  /**
   * Not through the index (eventually consistent: a backup that registered a moment ago may be
   * missing), but a strongly consistent Scan of the table itself, for gc (FORMAT.md, "Garbage
   * collection"). It reads every item, so it costs more than a Query; gc is the only caller.
   */
  async listRunningBackups(): Promise<BackupRecord[]> {
    return (await this.backups.scanConsistent('state', 'running')).sort(byStartTime);
  }
  createRestore(record: RestoreRecord): Promise<void> { return this.restores.create(record); }
  finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> { return this.restores.transition(restoreId, 'running', { ...changes, restoreId }); }
  getRestore(restoreId: string): Promise<RestoreRecord | undefined> { return this.restores.get(restoreId); }
  expireBackup(backupId: string, expiredAt: string): Promise<BackupRecord> { return this.backups.transition(backupId, 'committed', { state: 'expired', expiredAt }); }
  /** create already writes the record in whatever state it has. */
  importBackup(record: BackupRecord): Promise<void> { return this.backups.create(record); }
  createCollection(record: CollectionRecord): Promise<void> { return this.collections.create(record); }
  getCollection(name: string): Promise<CollectionRecord | undefined> { return this.collections.get(name); }
  async listCollections(): Promise<CollectionRecord[]> { return (await this.collections.list()).sort((a, b) => compare(a.name, b.name)); }

  async acquireLease(lease: Lease, now: Date): Promise<Lease | undefined> {
    const { expiresAt, ...fields } = lease;
    const item = { ...fields, ...this.table.key('lease', lease.name), leaseExpiresAt: expiresAt, leaseExpiresAtMs: Date.parse(expiresAt) };
    for (;;) {
      const written = await this.table.conditional('lease', () =>
        this.table.client.send(new PutCommand({
          TableName: this.table.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#pk) OR #until <= :now OR #owner = :owner',
          ExpressionAttributeNames: { '#pk': T.partitionKey, '#until': 'leaseExpiresAtMs', '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now.getTime(), ':owner': lease.owner },
        })),
      );
      if (written) return undefined;
      const holder = await this.getLease(lease.name);
      if (holder) return holder;
      // Released between our write and our read: it is free again, so try again.
    }
  }

  async getLease(name: string): Promise<Lease | undefined> {
    const item = await this.table.get('lease', name);
    if (!item) return undefined;
    const { [T.partitionKey]: _pk, [T.sortKey]: _sk, leaseExpiresAt, leaseExpiresAtMs: _ms, ...fields } = item;
    return { ...fields, expiresAt: leaseExpiresAt } as Lease;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    // Not ours (expired and taken by another, or already released): leave it.
    await this.table.conditional('lease', () =>
      this.table.client.send(new DeleteCommand({
        TableName: this.table.tableName,
        Key: this.table.key('lease', name),
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': owner },
      })),
    );
  }
}

/** The table: item keys, reads, and SDK failures as Tidemark errors. */
class CatalogTable {
  constructor(
    readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly location: string,
  ) {}

  key(kind: string, id: string): Record<string, string> {
    if (!ID.test(id)) {
      throw new InvalidKeyError(
        `Invalid ${kind} id ${JSON.stringify(id)}: use letters, digits and . _ : - (not first), at most 200 characters.`,
      );
    }
    const sk = kind.toUpperCase();
    return { [T.partitionKey]: `${sk}#${id}`, [T.sortKey]: sk };
  }

  async get(kind: string, id: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.send(kind, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: this.key(kind, id), ConsistentRead: true })),
    );
    return out.Item;
  }

  /** Runs a conditional write: its output, or undefined when the condition failed. */
  async conditional<O>(kind: string, call: () => Promise<O>): Promise<O | undefined> {
    try {
      return await this.send(kind, call);
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
  }

  /** SDK failures (after its own retries) as Tidemark errors the ASL can Retry or Catch by name. */
  async send<O>(kind: string, call: () => Promise<O>): Promise<O> {
    try {
      return await call();
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (err instanceof TidemarkError || e.name === 'ConditionalCheckFailedException') throw err;
      const status = e.$metadata?.httpStatusCode;
      const detail = `${e.name ?? 'Error'}: ${redactSecrets(e.message ?? String(err))}`;
      if (status === undefined || status >= 500 || /Throughput|Throttl|LimitExceeded/.test(e.name ?? '')) {
        throw new TransientError(`The catalog ${this.location} kept failing after retries (${detail}); try again later.`, { cause: err });
      }
      throw new TidemarkError(`The catalog ${this.location} refused a ${kind} request (${detail}). Check the table name and the role's permissions.`, { cause: err });
    }
  }
}

/** The items of one kind, listed through the byKind index. */
class CatalogItems<R extends object> {
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
    return this.allPages((ExclusiveStartKey) =>
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
  }

  /**
   * Every item of this kind whose `field` equals `value`, by a strongly consistent Scan of the
   * base table (sees every write completed before it began), in no particular order.
   */
  async scanConsistent(field: string, value: string): Promise<R[]> {
    return this.allPages((ExclusiveStartKey) =>
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
  }

  /**
   * The records of every page of a Query or Scan. A page can hold no item (a Scan filters after
   * reading) and still not be the last: only LastEvaluatedKey says.
   */
  private async allPages(
    page: (ExclusiveStartKey: Record<string, unknown> | undefined) => Promise<{ Items?: Record<string, unknown>[]; LastEvaluatedKey?: Record<string, unknown> }>,
  ): Promise<R[]> {
    const records: R[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.table.send(this.kind, () => page(start));
      records.push(...(out.Items ?? []).map((item) => this.record(item)));
      start = out.LastEvaluatedKey;
    } while (start);
    return records;
  }

  /** The record an item holds: the item without the table's own attributes. */
  private record(item: Record<string, unknown>): R {
    const { [T.partitionKey]: _pk, [T.sortKey]: _sk, [T.listIndexPartitionKey]: _kind, [T.ttlAttribute]: _ttl, ...record } = item;
    if (this.listedAt) delete record[T.listIndexSortKey];
    return record as unknown as R;
  }
}

/** Creates the catalog table (on-demand, GSI byKind) if it does not exist, for tests and local use. */
export async function createCatalogTable(anyClient: DynamoDBClient | DynamoDBDocumentClient, tableName: string): Promise<void> {
  // A document client sends low-level commands unchanged; only the overloads' types differ.
  const client = anyClient as DynamoDBClient;
  const exists = await client.send(new DescribeTableCommand({ TableName: tableName })).then(
    () => true,
    (err: Error) => (err.name === 'ResourceNotFoundException' ? false : Promise.reject(err)),
  );
  if (exists) return;
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [T.partitionKey, T.sortKey, T.listIndexPartitionKey, T.listIndexSortKey].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [{ AttributeName: T.partitionKey, KeyType: 'HASH' }, { AttributeName: T.sortKey, KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: T.listIndex,
          KeySchema: [{ AttributeName: T.listIndexPartitionKey, KeyType: 'HASH' }, { AttributeName: T.listIndexSortKey, KeyType: 'RANGE' }],
          // Whole records, so listing needs no GetItem per backup.
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new TidemarkError(`The catalog table ${tableName} did not become ACTIVE within 10 s.`);
}

/** Ids become key parts; the same rule as the file catalog, so an id valid on one is valid on both. */
const ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,199}$/;

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

/** Oldest first: by instant, then startedAt text, then id (the file catalog's order). */
function byStartTime(a: BackupRecord, b: BackupRecord): number {
  return Date.parse(a.startedAt) - Date.parse(b.startedAt) || compare(a.startedAt, b.startedAt) || compare(a.backupId, b.backupId);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
