// listRunningRestores (issue 11: gc finds restores whose process died) on both catalog backends:
// only `running` restores, oldest first, with their runner; a finish is seen at once.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbCatalog, createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { FileCatalog } from '#adapters/file-catalog.ts';
import type { BackupCatalog } from '#core/ports/catalog.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { restoreRecord } from './catalog-contract.ts';

let dynamo: LocalDynamoDb;
let dir: string;
beforeAll(async () => {
  [dynamo, dir] = await Promise.all([startDynalite(), mkdtemp(join(tmpdir(), 'tidemark-running-restores-'))]);
});
afterAll(async () => {
  await dynamo?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const backends: [string, () => Promise<BackupCatalog>][] = [
  ['FileCatalog', async () => new FileCatalog(join(dir, randomUUID()))],
  [
    'DynamoDbCatalog on dynalite',
    async () => {
      const tableName = `catalog-${randomUUID()}`;
      await createCatalogTable(dynamo.client(), tableName);
      return new DynamoDbCatalog({ client: dynamo.client(), tableName });
    },
  ],
];

describe.each(backends)('%s: listRunningRestores', (_name, open) => {
  it('lists only running restores, oldest first, with their runner, and sees a finish at once', async () => {
    const catalog = await open();
    const runner = { host: 'host-a', pid: 4242 };
    await catalog.createRestore(restoreRecord('r-late', { startedAt: '2025-03-02T12:00:00.000Z', runner }));
    await catalog.createRestore(restoreRecord('r-early', { startedAt: '2025-03-02T09:00:00.000Z' }));
    await catalog.createRestore(restoreRecord('r-done'));
    await catalog.finishRestore('r-done', { state: 'committed', finishedAt: '2025-03-02T11:00:00.000Z' });
    const running = await catalog.listRunningRestores();
    expect(running.map((r) => r.restoreId)).toEqual(['r-early', 'r-late']);
    expect(running[1]!.runner).toEqual(runner);
    await catalog.finishRestore('r-late', { state: 'failed', error: 'Interrupted' });
    expect((await catalog.listRunningRestores()).map((r) => r.restoreId)).toEqual(['r-early']);
  });
});
