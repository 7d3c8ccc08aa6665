// The table's reads and the SDK's errors, so every kind of item gets the same errors, named for
// the ASL's Retry and Catch. (Ids are checked by the catalog core; keys are built in items.ts.)
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import { TidemarkError, TransientError, redactSecrets } from '#core/errors.ts';
import type { ItemId, ItemKind } from '#core/catalog/items.ts';
import { itemKey, type Item } from './items.ts';

/** One page of a Query or Scan. */
type Page = { Items?: Item[]; LastEvaluatedKey?: Item };

/** The table: reads, paging, and SDK failures as Tidemark errors. */
export class CatalogTable {
  constructor(
    readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
    readonly location: string,
  ) {}

  /** The item, read with a strongly consistent GetItem. */
  async get(kind: ItemKind, id: ItemId): Promise<Item | undefined> {
    const out = await this.send(kind, () =>
      this.client.send(new GetCommand({ TableName: this.tableName, Key: itemKey(kind, id), ConsistentRead: true })),
    );
    return out.Item;
  }

  /**
   * The items of every page of a Query or Scan. A page can hold no item (a Scan filters after
   * reading) and still not be the last: only LastEvaluatedKey says.
   */
  async allPages(kind: string, page: (ExclusiveStartKey: Item | undefined) => Promise<Page>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.send(kind, () => page(start));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
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
        throw new TransientError(
          `The catalog ${this.location} kept failing after retries (${detail}); try again later.`,
          { cause: err },
        );
      }
      throw new TidemarkError(
        `The catalog ${this.location} refused a ${kind} request (${detail}). Check the table name and the role's permissions.`,
        { cause: err },
      );
    }
  }
}

/** Creates the catalog table (on-demand, GSI byKind) if it does not exist, for tests and local use. */
export async function createCatalogTable(
  anyClient: DynamoDBClient | DynamoDBDocumentClient,
  tableName: string,
): Promise<void> {
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
      AttributeDefinitions: [T.partitionKey, T.sortKey, T.listIndexPartitionKey, T.listIndexSortKey].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
      KeySchema: [
        { AttributeName: T.partitionKey, KeyType: 'HASH' },
        { AttributeName: T.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: T.listIndex,
          KeySchema: [
            { AttributeName: T.listIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: T.listIndexSortKey, KeyType: 'RANGE' },
          ],
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
