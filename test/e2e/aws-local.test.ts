// The core acceptance through the AWS-shaped stores: the repository in S3 (s3rver) and the
// catalog in DynamoDB (dynalite), reached the way the CLI reaches them (`s3://` repository,
// TIDEMARK_CATALOG, the SDK's AWS_ENDPOINT_URL_* variables). Fidelity: the fixture database
// round-trips exactly (pg_dump, rows, sequences). Consistency: a backup taken while writers move
// money restores to one instant. Then the CLI in a child process reads the same stores.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { itRestoresIdentically, loadFidelityFixture, tableContents } from '../support/database-state.ts';
import { listKeys } from '../contract/storage-contract.ts';
import { runCli, describeResult } from '../support/cli.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { expireBackups } from '#core/maintenance/expire.ts';
import { collectGarbage } from '#core/maintenance/gc.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { describeUrl } from '#adapters/postgres/connector.ts';

let server: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;
/** The environment a user would set to point the SDK at these servers. */
let awsEnv: Record<string, string>;

beforeAll(async () => {
  [server, s3, dynamo] = await Promise.all([startPostgres({ major: 15 }), startS3rver(), startDynalite()]);
  awsEnv = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  for (const [name, value] of Object.entries(awsEnv)) vi.stubEnv(name, value);
  const client = dynamo.client();
  // One catalog table per repository, as one stack has one of each.
  await Promise.all(['fidelity', 'bank', 'collection'].map((name) => createCatalogTable(client, `tidemark-${name}`)));
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([server?.stop(), s3?.stop(), dynamo?.stop()]);
});

async function awsContext(name: string, create: boolean): Promise<LocalContext> {
  return openLocalContext(`s3://${s3.bucket}/${name}`, { create, catalog: `dynamodb://tidemark-${name}` });
}

describe('fidelity through S3 and DynamoDB', () => {
  let backupId: string;

  beforeAll(async () => {
    await server.createDatabase('fidelity_source');
    await loadFidelityFixture(server, 'fidelity_source');
    const ctx = await awsContext('fidelity', true);
    ctx.credentials.register('source', server.url('fidelity_source'));
    ctx.credentials.register('target', server.url('fidelity_restored'));
    // Small chunks and ranges so that tables span several chunks and export tasks.
    const plan = { chunkBytes: 256 * 1024, rangeBytes: 256 * 1024 };
    const backup = await runStateMachine(
      'backup',
      { source: { credentials: 'source' }, options: { workers: 3, snapshotHoldSeconds: 600, plan } },
      ctx,
    );
    backupId = backup.backupId;
    await runStateMachine(
      'restore',
      { backup: backupId, target: { credentials: 'target' }, options: { workers: 3 } },
      ctx,
    );
  });

  it('the repository is in the bucket and the catalog in the table', async () => {
    const ctx = await awsContext('fidelity', false);
    expect(ctx.storage.location).toBe(`s3://${s3.bucket}/fidelity`);
    const keys = await listKeys(ctx.storage, '');
    expect(keys).toContain(`backups/${backupId}/manifest.json`);
    expect(keys.filter((k) => k.startsWith('chunks/')).length).toBeGreaterThan(5);
    expect(await ctx.catalog.listBackups()).toMatchObject([
      { backupId, state: 'committed', manifestKey: `backups/${backupId}/manifest.json` },
    ]);
  });

  itRestoresIdentically(() => server, 'fidelity_source', 'fidelity_restored');

  it('the CLI lists, verifies and restores "latest" from the same S3 repository and DynamoDB catalog', async () => {
    // Only the CLI's child needs the legacy provider (s3rver's ListObjectsV2 paging; vitest sets it for itself).
    const env = {
      ...awsEnv,
      TIDEMARK_CATALOG: 'dynamodb://tidemark-fidelity',
      NODE_OPTIONS: '--openssl-legacy-provider',
    };
    const repo = ['--repo', `s3://${s3.bucket}/fidelity`];
    const list = await runCli(['list', ...repo, '--json'], { env });
    expect(list.code, describeResult(list)).toBe(0);
    expect(list.json).toMatchObject([{ backupId, state: 'committed' }]);
    const verify = await runCli(['verify', 'latest', ...repo], { env });
    expect(verify.code, describeResult(verify)).toBe(0);
    const restore = await runCli(['restore', 'latest', ...repo, '--target', server.url('fidelity_cli'), '--json'], {
      env,
    });
    expect(restore.code, describeResult(restore)).toBe(0);
    expect(restore.json).toMatchObject({ ok: true, backupId });
    expect(await tableContents(server, 'fidelity_cli')).toEqual(await tableContents(server, 'fidelity_source'));
  });

  it('the CLI refuses an S3 repository without a catalog, saying what to set', async () => {
    const result = await runCli(['list', '--repo', `s3://${s3.bucket}/fidelity`], {
      env: { ...awsEnv, NODE_OPTIONS: '--openssl-legacy-provider' },
    });
    expect(result.code, describeResult(result)).toBe(2);
    expect(result.stderr).toContain('TIDEMARK_CATALOG=dynamodb://');
  });
});

describe('consistency through S3 and DynamoDB', () => {
  const ACCOUNTS = 20_000;
  const INITIAL = 1_000;

  /** Moves money between random accounts, one transaction per transfer, logged in a ledger. */
  async function writer(stop: () => boolean, commits: number[]): Promise<void> {
    const client = new pg.Client({ connectionString: server.url('bank') });
    await client.connect();
    try {
      while (!stop()) {
        const [a, b] = [1 + Math.floor(Math.random() * ACCOUNTS), 1 + Math.floor(Math.random() * ACCOUNTS)].sort(
          (x, y) => x - y,
        );
        if (a === b) continue;
        const amount = 1 + Math.floor(Math.random() * 100);
        await client.query('BEGIN');
        await client.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [a, amount]);
        await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [b, amount]);
        await client.query('INSERT INTO ledger (from_id, to_id, amount) VALUES ($1, $2, $3)', [a, b, amount]);
        await client.query('COMMIT');
        commits.push(Date.now());
      }
    } finally {
      await client.end();
    }
  }

  it('a backup taken while writers run restores one instant', async () => {
    await server.createDatabase('bank');
    await server.sql(
      `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, padding text NOT NULL);
       CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount bigint NOT NULL);
       INSERT INTO accounts SELECT g, ${INITIAL}, repeat(md5(g::text), 7) FROM generate_series(1, ${ACCOUNTS}) g;
       ANALYZE accounts;`,
      'bank',
    );
    const commits: number[] = [];
    let stopping = false;
    const writers = Array.from({ length: 3 }, () => writer(() => stopping, commits));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const ctx = await awsContext('bank', true);
      ctx.credentials.register('source', server.url('bank'));
      ctx.credentials.register('target', server.url('bank_restored'));
      // ~5 MB of accounts in 256 KB ranges: many export batches reading at different moments.
      const plan = { chunkBytes: 128 << 10, rangeBytes: 256 << 10, batchBytes: 512 << 10 };
      let batches = 0;
      const backup = await runStateMachine(
        'backup',
        { source: { credentials: 'source' }, options: { workers: 4, snapshotHoldSeconds: 600, plan } },
        ctx,
        { onState: (e) => e.type === 'StateEntered' && e.state === 'ExportBatch' && batches++ },
      );
      const backupEnded = Date.now();
      const record = (await ctx.catalog.getBackup(backup.backupId))!;
      expect(record.state).toBe('committed');
      expect(batches).toBeGreaterThanOrEqual(5);
      await new Promise((r) => setTimeout(r, 200));
      stopping = true;
      await Promise.all(writers);
      const snapshotAt = Date.parse(record.snapshotTime!);
      expect(commits.filter((at) => at > snapshotAt && at < backupEnded).length).toBeGreaterThan(0);

      await runStateMachine(
        'restore',
        { backup: backup.backupId, target: { credentials: 'target' }, options: { workers: 4 } },
        ctx,
      );
      const [r] = (
        await server.sql(
          `SELECT (SELECT count(*)::int FROM accounts) AS accounts, (SELECT sum(balance)::bigint FROM accounts) AS total,
                  (SELECT count(*)::int FROM ledger) AS transfers,
                  (SELECT count(*)::int FROM accounts a
                     LEFT JOIN (SELECT id, sum(delta) AS delta
                                  FROM (SELECT to_id AS id, amount AS delta FROM ledger UNION ALL SELECT from_id, -amount FROM ledger) m
                                 GROUP BY id) l USING (id)
                    WHERE a.balance <> ${INITIAL} + coalesce(l.delta, 0)) AS disagreeing`,
          'bank_restored',
        )
      ).rows;
      expect(r.accounts).toBe(ACCOUNTS);
      expect(r.total).toBe(String(ACCOUNTS * INITIAL));
      expect(r.disagreeing).toBe(0);
      expect(r.transfers).toBeGreaterThan(0);
      expect(r.transfers).toBeLessThan(commits.length); // the snapshot missed the later transfers
    } finally {
      stopping = true;
      await Promise.allSettled(writers);
    }
  });
});

describe('a collection through S3 and DynamoDB', () => {
  it('an incremental backup, expire and gc keep the newest restorable and identical', async () => {
    await server.createDatabase('coll_source');
    await server.sql(
      `CREATE TABLE items (id bigint PRIMARY KEY, v text); INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;`,
      'coll_source',
    );
    const ctx = await awsContext('collection', true);
    const url = server.url('coll_source');
    await createCollection(ctx, {
      name: 'items',
      source: 'source',
      sourceDescription: describeUrl(url),
      retention: { keepLast: 1 },
    });
    ctx.credentials.register('source', url);
    const backup = () =>
      runStateMachine(
        'backup',
        {
          source: { credentials: 'source' },
          collection: 'items',
          options: { workers: 2, snapshotHoldSeconds: 600, plan: { chunkBytes: 64 * 1024, rangeBytes: 256 * 1024 } },
        },
        ctx,
      );
    const full = await backup();
    await server.sql(
      `UPDATE items SET v = 'changed' WHERE id % 100 = 1; DELETE FROM items WHERE id % 1000 = 2`,
      'coll_source',
    );
    const next = await backup();
    expect(next.bytesStored).toBeLessThan(0.05 * full.bytesStored);
    expect((await readManifest(ctx.storage, next.backupId)).parent).toBe(full.backupId);

    const expiry = await expireBackups(ctx, { collection: 'items' });
    expect(expiry.collections[0]!.expired).toEqual([full.backupId]);
    const gc = await collectGarbage(ctx);
    expect(gc.manifestsRemoved).toEqual([full.backupId]);
    expect(gc.chunksMissing).toEqual([]);

    ctx.credentials.register('target', server.url('coll_restored'));
    await runStateMachine(
      'restore',
      { backup: 'latest', target: { credentials: 'target' }, options: { workers: 2 } },
      ctx,
    );
    expect(await tableContents(server, 'coll_restored')).toEqual(await tableContents(server, 'coll_source'));
  });
});
