// BackupCatalog in one DynamoDB table: the rules are the catalog core's (src/core/catalog/); this
// backend gives it the primitives, each one DynamoDB request (after the SDK's own retries) with
// single-item conditional writes only, no transactions: create and lease writes are a
// conditional PutItem, a state change one conditional UpdateItem, a release a conditional
// DeleteItem. Its own strengths: lists are a Query of the byKind index (no Scan), and running
// backups a strongly consistent Scan of the table, for gc. Item layout: dynamodb-catalog/items.ts;
// conditions: conditions.ts; paging and SDK errors: table.ts; the client: client.ts.
import {
  DeleteCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import { CatalogCore } from '#core/catalog/catalog-core.ts';
import type { Condition } from '#core/catalog/conditions.ts';
import type { ItemId, ItemKind, ItemOf } from '#core/catalog/items.ts';
import { plain } from '#core/catalog/order.ts';
import type { SegmentRecord } from '#core/ports/segment-catalog.ts';
import { segmentIdPrefix } from '#core/catalog/segments.ts';
import { conditionExpression } from '#adapters/dynamodb-catalog/conditions.ts';
import { attributeOf, fromItem, itemKey, toItem } from '#adapters/dynamodb-catalog/items.ts';
import { CatalogTable } from '#adapters/dynamodb-catalog/table.ts';

export { createCatalogTable } from '#adapters/dynamodb-catalog/table.ts';
export { createDynamoDbClient } from '#adapters/dynamodb-catalog/client.ts';

export interface DynamoDbCatalogOptions {
  /** Over a client from createDynamoDbClient (dynamodb-catalog/client.ts), which sets the retries. */
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoDbCatalog extends CatalogCore {
  readonly location: string;
  private readonly table: CatalogTable;

  constructor(options: DynamoDbCatalogOptions) {
    super();
    this.location = `dynamodb://${options.tableName}`;
    this.table = new CatalogTable(options.client, options.tableName, this.location);
  }

  protected override async readItem<K extends ItemKind>(kind: K, id: ItemId): Promise<ItemOf<K> | undefined> {
    const item = await this.table.get(kind, id);
    return item ? fromItem(kind, item) : undefined;
  }

  protected override async putItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    record: ItemOf<K>,
    condition: Condition,
  ): Promise<boolean> {
    const written = await this.table.conditional(kind, () =>
      this.table.client.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: toItem(kind, id, record),
          ...conditionExpression(kind, condition),
        }),
      ),
    );
    return written !== undefined;
  }

  /** One UpdateItem: SET for each change, REMOVE for each undefined one (leases are only put whole). */
  protected override async updateItem<K extends ItemKind>(
    kind: K,
    id: ItemId,
    changes: Partial<ItemOf<K>>,
    condition: Condition,
  ): Promise<ItemOf<K> | undefined> {
    const {
      ConditionExpression,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues,
    } = conditionExpression(kind, condition);
    const values: Record<string, unknown> = { ...ExpressionAttributeValues };
    const set: string[] = [];
    const remove: string[] = [];
    Object.entries(changes).forEach(([field, value], i) => {
      names[`#f${i}`] = attributeOf(kind, field);
      if (value === undefined) remove.push(`#f${i}`);
      else {
        values[`:v${i}`] = plain(value);
        set.push(`#f${i} = :v${i}`);
      }
    });
    const out = await this.table.conditional(kind, () =>
      this.table.client.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: itemKey(kind, id),
          UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out ? fromItem(kind, out.Attributes!) : undefined;
  }

  protected override async deleteItem(kind: ItemKind, id: ItemId, condition: Condition): Promise<void> {
    await this.table.conditional(kind, () =>
      this.table.client.send(
        new DeleteCommand({
          TableName: this.table.tableName,
          Key: itemKey(kind, id),
          ...conditionExpression(kind, condition),
        }),
      ),
    );
  }

  /** A Query of the byKind index: eventually consistent, whole records (projection ALL). */
  protected override async listItems<K extends ItemKind>(kind: K): Promise<ItemOf<K>[]> {
    const items = await this.table.allPages(kind, (ExclusiveStartKey) =>
      this.table.client.send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: T.listIndex,
          KeyConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey },
          ExpressionAttributeValues: { ':kind': kind },
          ExclusiveStartKey,
        }),
      ),
    );
    return items.map((item) => fromItem(kind, item));
  }

  /** One Query of the byKind index: segments are listed by id (items.ts), so begins_with picks a collection's or a chain's. */
  protected override async listSegmentItems(prefix: string): Promise<SegmentRecord[]> {
    const items = await this.table.allPages('segment', (ExclusiveStartKey) =>
      this.table.client.send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: T.listIndex,
          KeyConditionExpression: '#kind = :kind AND begins_with(#id, :prefix)',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey, '#id': T.listIndexSortKey },
          ExpressionAttributeValues: { ':kind': 'segment', ':prefix': prefix },
          ExclusiveStartKey,
        }),
      ),
    );
    return items.map((item) => fromItem('segment', item));
  }

  /** The same Query backwards, one item: the cost does not grow with the archive. */
  override async lastSegment(collection: string): Promise<SegmentRecord | undefined> {
    const out = await this.table.send('segment', () =>
      this.table.client.send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: T.listIndex,
          KeyConditionExpression: '#kind = :kind AND begins_with(#id, :prefix)',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey, '#id': T.listIndexSortKey },
          ExpressionAttributeValues: { ':kind': 'segment', ':prefix': segmentIdPrefix(collection) },
          ScanIndexForward: false,
          Limit: 1,
        }),
      ),
    );
    const [item] = out.Items ?? [];
    return item && fromItem('segment', item);
  }

  /**
   * Not through the index (eventually consistent: an item written a moment ago may be missing),
   * but a strongly consistent Scan of the table itself. It reads every item, so it costs more
   * than a Query; gc's look at running backups is the only caller.
   */
  protected override async listItemsConsistently<K extends ItemKind>(
    kind: K,
    field: string,
    value: string,
  ): Promise<ItemOf<K>[]> {
    const items = await this.table.allPages(kind, (ExclusiveStartKey) =>
      this.table.client.send(
        new ScanCommand({
          TableName: this.table.tableName,
          ConsistentRead: true,
          FilterExpression: '#kind = :kind AND #field = :value',
          ExpressionAttributeNames: { '#kind': T.listIndexPartitionKey, '#field': attributeOf(kind, field) },
          ExpressionAttributeValues: { ':kind': kind, ':value': value },
          ExclusiveStartKey,
        }),
      ),
    );
    return items.map((item) => fromItem(kind, item));
  }
}
