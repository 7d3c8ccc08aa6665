// BackupCatalog in one DynamoDB table, with single-item conditional writes only (no
// transactions), the same semantics as the file catalog. Items (key names in aws-resources.ts):
//   pk `BACKUP#<backupId>`   sk `BACKUP`   kind `backup`   startedAt …  + every BackupRecord field
//   pk `RESTORE#<restoreId>` sk `RESTORE`  kind `restore`  startedAt …  + every RestoreRecord field
// Record fields are top-level attributes, so a finish is one UpdateItem that SETs the changes.
// create = PutItem if attribute_not_exists(pk); finish = UpdateItem if state = running. The GSI
// `byKind` (kind, startedAt) lists one kind without a Scan.
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import { BackupNotFoundError, CatalogConflictError, InvalidKeyError, TidemarkError, TransientError, redactSecrets } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, RestoreRecord, RunState } from '#core/ports/catalog.ts';

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };
type Kind = 'backup' | 'restore';

export interface DynamoDbCatalogOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoDbCatalog implements BackupCatalog {
  readonly location: string;
  private readonly backups: CatalogItems<BackupRecord>;
  private readonly restores: CatalogItems<RestoreRecord>;

  constructor(options: DynamoDbCatalogOptions) {
    this.location = `dynamodb://${options.tableName}`;
    const table = { client: options.client, tableName: options.tableName, location: this.location };
    this.backups = new CatalogItems(table, 'backup', (r) => r.backupId, (id) =>
      new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`));
    this.restores = new CatalogItems(table, 'restore', (r) => r.restoreId, (id) =>
      new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`));
  }

  createBackup(record: BackupRecord): Promise<void> { return this.backups.create(record); }
  finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> { return this.backups.finish(backupId, { ...changes, backupId }); }
  getBackup(backupId: string): Promise<BackupRecord | undefined> { return this.backups.get(backupId); }
  listBackups(): Promise<BackupRecord[]> { return this.backups.list(); }
  createRestore(record: RestoreRecord): Promise<void> { return this.restores.create(record); }
  finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> { return this.restores.finish(restoreId, { ...changes, restoreId }); }
  getRestore(restoreId: string): Promise<RestoreRecord | undefined> { return this.restores.get(restoreId); }
}

interface Table {
  client: DynamoDBDocumentClient;
  tableName: string;
  location: string;
}

/** The items of one kind. */
class CatalogItems<R extends { state: RunState; startedAt: string }> {
  private readonly sk: string;

  constructor(
    private readonly table: Table,
    private readonly kind: Kind,
    private readonly idOf: (record: R) => string,
    private readonly notFound: (id: string) => Error,
  ) {
    this.sk = kind.toUpperCase();
  }

  async create(record: R): Promise<void> {
    const id = this.idOf(record);
    const item = { ...plain(record), ...this.key(id), [T.listIndexPartitionKey]: this.kind };
    const put = new PutCommand({
      TableName: this.table.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': T.partitionKey },
    });
    const written = await this.conditional(() => this.table.client.send(put));
    if (written) return;
    const current = await this.get(id);
    if (current && encode(current) === encode(plain(record))) return; // retry of the same create
    throw new CatalogConflictError(
      `Cannot create ${this.kind} ${id}: it already exists with different content (state ${current?.state}). Use a new id.`,
    );
  }

  async finish(id: string, changes: Finish<R>): Promise<R> {
    // Like the file catalog, a change whose value is undefined removes the field.
    const names: Record<string, string> = { '#state': 'state' };
    const values: Record<string, unknown> = { ':running': 'running' };
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
    // At most two rounds: the item can only be missing, running, or out of running for good.
    for (;;) {
      const out = await this.conditional(() =>
        this.table.client.send(new UpdateCommand({
          TableName: this.table.tableName,
          Key: this.key(id),
          UpdateExpression: update,
          ConditionExpression: 'attribute_exists(#pk) AND #state = :running',
          ExpressionAttributeNames: { ...names, '#pk': T.partitionKey },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        })),
      );
      if (out) return this.record(out.Attributes!);
      const current = await this.get(id);
      if (!current) throw this.notFound(id);
      if (current.state === 'running') continue; // created after our write failed: try again
      // Same target state = a retry of the same transition; the first writer's fields stay.
      if (current.state === changes.state) return current;
      throw new CatalogConflictError(`Cannot mark ${this.kind} ${id} ${changes.state}: it is already ${current.state}.`);
    }
  }

  async get(id: string): Promise<R | undefined> {
    const out = await this.send(() =>
      this.table.client.send(new GetCommand({ TableName: this.table.tableName, Key: this.key(id), ConsistentRead: true })),
    );
    return out.Item ? this.record(out.Item) : undefined;
  }

  /** Oldest first: by startedAt as an instant, then as text, then by id — the file catalog's order. */
  async list(): Promise<R[]> {
    const records: R[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.send(() =>
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
      records.push(...(page.Items ?? []).map((item) => this.record(item)));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    // The index orders by startedAt text only; ties and mixed UTC offsets need the full order.
    return records.sort(
      (a, b) =>
        Date.parse(a.startedAt) - Date.parse(b.startedAt) || compare(a.startedAt, b.startedAt) || compare(this.idOf(a), this.idOf(b)),
    );
  }

  private key(id: string): Record<string, string> {
    if (!ID.test(id)) {
      throw new InvalidKeyError(
        `Invalid ${this.kind} id ${JSON.stringify(id)}: use letters, digits and . _ : - (not first), at most 200 characters.`,
      );
    }
    return { [T.partitionKey]: `${this.sk}#${id}`, [T.sortKey]: this.sk };
  }

  /** The record an item holds: the item without the table's own attributes. */
  private record(item: Record<string, unknown>): R {
    const { [T.partitionKey]: _pk, [T.sortKey]: _sk, [T.listIndexPartitionKey]: _kind, [T.ttlAttribute]: _ttl, ...record } = item;
    return record as unknown as R;
  }

  /** Runs a conditional write: its output, or undefined when the condition failed. */
  private async conditional<O>(call: () => Promise<O>): Promise<O | undefined> {
    try {
      return await this.send(call);
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
  }

  /** SDK failures (after its own retries) as Tidemark errors the ASL can Retry or Catch by name. */
  private async send<O>(call: () => Promise<O>): Promise<O> {
    try {
      return await call();
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (err instanceof TidemarkError || e.name === 'ConditionalCheckFailedException') throw err;
      const status = e.$metadata?.httpStatusCode;
      const detail = `${e.name ?? 'Error'}: ${redactSecrets(e.message ?? String(err))}`;
      if (status === undefined || status >= 500 || /Throughput|Throttl|LimitExceeded/.test(e.name ?? '')) {
        throw new TransientError(`The catalog ${this.table.location} kept failing after retries (${detail}); try again later.`, { cause: err });
      }
      throw new TidemarkError(`The catalog ${this.table.location} refused a ${this.kind} request (${detail}). Check the table name and the role's permissions.`, { cause: err });
    }
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
