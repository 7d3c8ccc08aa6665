// Leases as single items with conditional writes: acquire = PutItem if absent, expired or ours;
// release = DeleteItem if ours. The expiry is stored as leaseExpiresAt, not `expiresAt`, which is
// the table's TTL attribute (epoch seconds), because an expired lease must stay readable;
// leaseExpiresAtMs is the same instant as a number, so the condition compares instants, not text.
// Nothing lists leases, so they have no kind.
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { CATALOG_TABLE as T } from '#adapters/aws-resources.ts';
import type { Lease } from '#core/ports/catalog.ts';
import type { CatalogTable } from './table.ts';

export class CatalogLeases {
  constructor(private readonly table: CatalogTable) {}

  async acquire(lease: Lease, now: Date): Promise<Lease | undefined> {
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
      const holder = await this.get(lease.name);
      if (holder) return holder;
      // Released between our write and our read: it is free again, so try again.
    }
  }

  async get(name: string): Promise<Lease | undefined> {
    const item = await this.table.get('lease', name);
    if (!item) return undefined;
    const { [T.partitionKey]: _pk, [T.sortKey]: _sk, leaseExpiresAt, leaseExpiresAtMs: _ms, ...fields } = item;
    return { ...fields, expiresAt: leaseExpiresAt } as Lease;
  }

  async release(name: string, owner: string): Promise<void> {
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
