// The catalog contract on DynamoDbCatalog against a real local DynamoDB (dynalite). Each test
// gets its own table, created with the same key schema and GSI as the CDK app's.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbCatalog, createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { InvalidKeyError } from '#core/errors.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { backupRecord, catalogContract, restoreRecord } from './catalog-contract.ts';

let dynamo: LocalDynamoDb;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo?.stop());

async function freshCatalog(): Promise<{ catalog: DynamoDbCatalog; tableName: string; client: ReturnType<LocalDynamoDb['client']> }> {
  const client = dynamo.client();
  const tableName = `catalog-${randomUUID()}`;
  await createCatalogTable(client, tableName);
  return { catalog: new DynamoDbCatalog({ client, tableName }), tableName, client };
}

catalogContract('DynamoDbCatalog on dynalite', async () => {
  const { catalog, client } = await freshCatalog();
  return { catalog, cleanup: async () => client.destroy() };
});

describe('DynamoDbCatalog items', () => {
  it('stores a backup as pk BACKUP#<id> / sk BACKUP with kind and startedAt for the byKind index', async () => {
    const { catalog, tableName, client } = await freshCatalog();
    await catalog.createBackup(backupRecord('b1', { warnings: [] }));
    await catalog.createRestore(restoreRecord('r1'));
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'BACKUP#b1', sk: 'BACKUP' } }));
    expect(Item).toMatchObject({ kind: 'backup', startedAt: '2025-03-01T10:00:00.000Z', backupId: 'b1', state: 'running', warnings: [] });
    const restore = await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'RESTORE#r1', sk: 'RESTORE' } }));
    expect(restore.Item).toMatchObject({ kind: 'restore', restoreId: 'r1' });
    client.destroy();
  });

  it('lists more backups than one Query page returns (400 KB items → 1 MB pages)', async () => {
    const { catalog, client } = await freshCatalog();
    // ~100 KB of warnings per record: a Query page holds about 10 of them.
    const warnings = Array.from({ length: 100 }, (_, i) => `warning ${i} `.padEnd(1000, '.'));
    const ids = Array.from({ length: 25 }, (_, i) => `b${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id, i) => catalog.createBackup(backupRecord(id, { warnings, startedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }))));
    expect((await catalog.listBackups()).map((b) => b.backupId)).toEqual(ids);
    client.destroy();
  });

  it('lists running backups across more than one Scan page, finished ones mixed in', async () => {
    const { catalog, tableName, client } = await freshCatalog();
    // ~100 KB of warnings per record: a Scan page (1 MB read) holds about 10 of them, and the
    // filter drops the finished ones from a page after reading it, so pages can even come back empty.
    const warnings = Array.from({ length: 100 }, (_, i) => `warning ${i} `.padEnd(1000, '.'));
    const ids = Array.from({ length: 30 }, (_, i) => `b${String(i).padStart(2, '0')}`);
    await Promise.all(ids.map((id, i) => catalog.createBackup(backupRecord(id, { warnings, startedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }))));
    const finished = ids.filter((_, i) => i % 3 === 0);
    await Promise.all(finished.map((id) => catalog.finishBackup(id, { state: 'committed' })));
    // The table really is more than one page: otherwise this test would not test paging.
    const firstPage = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    expect((await catalog.listRunningBackups()).map((b) => b.backupId)).toEqual(ids.filter((id) => !finished.includes(id)));
    client.destroy();
  });

  it('listRunningBackups reads the table with ConsistentRead, never the (eventually consistent) index', async () => {
    // dynalite is always consistent, so the contract test cannot show the index lagging; this
    // pins down the request that makes the real DynamoDB consistent.
    const { catalog, client } = await freshCatalog();
    await catalog.createBackup(backupRecord('b1'));
    const send = vi.spyOn(client, 'send');
    await catalog.listRunningBackups();
    const inputs = send.mock.calls.map(([command]) => command.input as Record<string, unknown>);
    expect(inputs.length).toBeGreaterThan(0);
    for (const input of inputs) {
      expect(input).toMatchObject({ ConsistentRead: true });
      expect(input.IndexName).toBeUndefined();
    }
    expect(send.mock.calls.every(([command]) => command instanceof ScanCommand)).toBe(true);
    send.mockRestore();
    client.destroy();
  });

  it('rejects ids the file catalog rejects', async () => {
    const { catalog, client } = await freshCatalog();
    for (const id of ['', '..', 'a/b', '.hidden', 'a#b']) {
      await expect(catalog.createBackup(backupRecord(id)), id).rejects.toBeInstanceOf(InvalidKeyError);
    }
    client.destroy();
  });
});
