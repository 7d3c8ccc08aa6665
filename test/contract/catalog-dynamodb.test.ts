// The catalog contract on DynamoDbCatalog against a real local DynamoDB (dynalite). Each test
// gets its own table, created with the same key schema and GSI as the CDK app's.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbCatalog, createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { InvalidKeyError } from '#core/errors.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { catalogRulesContract } from './catalog-contract-rules.ts';
import { backupRecord, catalogContract, restoreRecord } from './catalog-contract.ts';
import { segmentCatalogContract } from './catalog-segments-contract.ts';

let dynamo: LocalDynamoDb;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo?.stop());

async function freshCatalog(): Promise<{
  catalog: DynamoDbCatalog;
  tableName: string;
  client: ReturnType<LocalDynamoDb['client']>;
}> {
  const client = dynamo.client();
  const tableName = `catalog-${randomUUID()}`;
  await createCatalogTable(client, tableName);
  return { catalog: new DynamoDbCatalog({ client, tableName }), tableName, client };
}

catalogContract('DynamoDbCatalog on dynalite', async () => {
  const { catalog, client } = await freshCatalog();
  return { catalog, cleanup: async () => client.destroy() };
});

catalogRulesContract('DynamoDbCatalog on dynalite', async () => {
  const { catalog, client } = await freshCatalog();
  return { catalog, cleanup: async () => client.destroy() };
});

segmentCatalogContract('DynamoDbCatalog on dynalite', async () => {
  const { catalog, client } = await freshCatalog();
  return { catalog, cleanup: async () => client.destroy() };
});

describe('DynamoDbCatalog items', () => {
  it('stores a backup as pk BACKUP#<id> / sk BACKUP with kind and startedAt for the byKind index', async () => {
    const { catalog, tableName, client } = await freshCatalog();
    await catalog.createBackup(backupRecord('b1', { warnings: [] }));
    await catalog.createRestore(restoreRecord('r1'));
    const { Item } = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: 'BACKUP#b1', sk: 'BACKUP' } }),
    );
    expect(Item).toMatchObject({
      kind: 'backup',
      startedAt: '2025-03-01T10:00:00.000Z',
      backupId: 'b1',
      state: 'running',
      warnings: [],
    });
    const restore = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: 'RESTORE#r1', sk: 'RESTORE' } }),
    );
    expect(restore.Item).toMatchObject({ kind: 'restore', restoreId: 'r1' });
    client.destroy();
  });

  it('lists more backups than one Query page returns (400 KB items → 1 MB pages)', async () => {
    const { catalog, client } = await freshCatalog();
    // ~100 KB of warnings per record: a Query page holds about 10 of them.
    const warnings = Array.from({ length: 100 }, (_, i) => `warning ${i} `.padEnd(1000, '.'));
    const ids = Array.from({ length: 25 }, (_, i) => `b${String(i).padStart(2, '0')}`);
    await Promise.all(
      ids.map((id, i) =>
        catalog.createBackup(
          backupRecord(id, { warnings, startedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }),
        ),
      ),
    );
    expect((await catalog.listBackups()).map((b) => b.backupId)).toEqual(ids);
    client.destroy();
  });

  it('lists running backups across more than one Scan page, finished ones mixed in', async () => {
    const { catalog, tableName, client } = await freshCatalog();
    // ~100 KB of warnings per record: a Scan page (1 MB read) holds about 10 of them, and the
    // filter drops the finished ones from a page after reading it, so pages can even come back empty.
    const warnings = Array.from({ length: 100 }, (_, i) => `warning ${i} `.padEnd(1000, '.'));
    const ids = Array.from({ length: 30 }, (_, i) => `b${String(i).padStart(2, '0')}`);
    await Promise.all(
      ids.map((id, i) =>
        catalog.createBackup(
          backupRecord(id, { warnings, startedAt: new Date(Date.UTC(2025, 0, 1, 0, i)).toISOString() }),
        ),
      ),
    );
    const finished = ids.filter((_, i) => i % 3 === 0);
    await Promise.all(finished.map((id) => catalog.finishBackup(id, { state: 'committed' })));
    // The table really is more than one page: otherwise this test would not test paging.
    const firstPage = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    expect((await catalog.listRunningBackups()).map((b) => b.backupId)).toEqual(
      ids.filter((id) => !finished.includes(id)),
    );
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

  it('each method sends the one request IAM grants it (no read before a write): Put, Update, Delete, Query, Scan, Get', async () => {
    // test/e2e/aws-grants.test.ts evaluates tasks' requests against their policies; this pins which
    // requests each catalog method makes, so the core's rules cannot add one unseen.
    const { catalog, client } = await freshCatalog();
    const send = vi.spyOn(client, 'send');
    const requests = async (call: () => Promise<unknown>) => {
      send.mockClear();
      await call();
      return send.mock.calls.map(([command]) => command.constructor.name);
    };
    const lease = {
      name: 'maintenance',
      owner: 'a',
      purpose: 'gc',
      acquiredAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T10:05:00.000Z',
    };
    expect(await requests(() => catalog.createBackup(backupRecord('b1')))).toEqual(['PutCommand']);
    expect(await requests(() => catalog.createBackup(backupRecord('b1')))).toEqual(['PutCommand', 'GetCommand']);
    expect(await requests(() => catalog.finishBackup('b1', { state: 'committed' }))).toEqual(['UpdateCommand']);
    expect(await requests(() => catalog.expireBackup('b1', '2025-04-01T00:00:00.000Z'))).toEqual(['UpdateCommand']);
    expect(await requests(() => catalog.getBackup('b1'))).toEqual(['GetCommand']);
    expect(await requests(() => catalog.listBackups())).toEqual(['QueryCommand']);
    expect(await requests(() => catalog.listRunningBackups())).toEqual(['ScanCommand']);
    expect(await requests(() => catalog.acquireLease(lease, new Date('2025-03-01T10:00:00.000Z')))).toEqual([
      'PutCommand',
    ]);
    expect(await requests(() => catalog.releaseLease('maintenance', 'a'))).toEqual(['DeleteCommand']);
    send.mockRestore();
    client.destroy();
  });

  it('stores a lease with its expiry as leaseExpiresAt and leaseExpiresAtMs, not the TTL attribute, and no kind', async () => {
    const { catalog, tableName, client } = await freshCatalog();
    const lease = {
      name: 'maintenance',
      owner: 'a',
      purpose: 'gc',
      acquiredAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T10:05:00.000Z',
      holder: { host: 'h', pid: 7 },
    };
    await catalog.acquireLease(lease, new Date('2025-03-01T10:00:00.000Z'));
    const { Item } = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: 'LEASE#maintenance', sk: 'LEASE' } }),
    );
    expect(Item).toEqual({
      pk: 'LEASE#maintenance',
      sk: 'LEASE',
      name: 'maintenance',
      owner: 'a',
      purpose: 'gc',
      acquiredAt: lease.acquiredAt,
      holder: { host: 'h', pid: 7 },
      leaseExpiresAt: lease.expiresAt,
      leaseExpiresAtMs: Date.parse(lease.expiresAt),
    });
    expect(await catalog.getLease('maintenance')).toEqual(lease);
    client.destroy();
  });
});
