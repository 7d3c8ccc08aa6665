// Cloud mode (`tidemark --stack …`) through the real command line in a child process. The AWS
// side is real wire traffic: the catalog is dynalite (a DynamoDB server), the repository s3rver
// (an S3 server), and Step Functions and CloudFormation are test/support/local-aws-endpoint.ts,
// which answers the SDK's own requests and runs the real ASL with the real tasks.
// See docs/cloud-cli.md for why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { DynamoDbCatalog, createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { S3Storage } from '#adapters/s3-storage.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { InProcessCredentials } from '#local/credentials.ts';
import { openRepository } from '#core/repository/repository.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeProgress, emptyProgress, foldHistory } from '#cli/cloud/history.ts';
import { startPostgres, SUPERUSER_PASSWORD, type PostgresServer } from '../support/postgres-server.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startLocalAws, type LocalAwsEndpoint } from '../support/local-aws-endpoint.ts';
import { compareDatabases } from '../support/compare.ts';
import { describeResult, runCli, type CliResult } from '../support/cli.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tidemark-db-AbCdEf';
const SM = 'arn:aws:states:us-east-1:123456789012:stateMachine:';
const TABLE = 'teststack-catalog';

let pg: PostgresServer;
let dynamo: LocalDynamoDb;
let s3: LocalS3;
let aws: LocalAwsEndpoint;
let env: Record<string, string>;
let backupId: string;

const tidemark = (args: string[]) => runCli(['--stack', 'teststack', ...args], { env });
const sfnClient = () =>
  new SFNClient({
    endpoint: aws.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

function expectOk(result: CliResult): void {
  expect(result.code, describeResult(result)).toBe(0);
}

beforeAll(async () => {
  [pg, dynamo, s3] = await Promise.all([startPostgres(), startDynalite(), startS3rver('teststack-repository')]);
  await pg.createDatabase('app');
  await pg.sql(
    `CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, joined date);
     INSERT INTO customer SELECT g, 'customer ' || g, date '2024-01-01' + g FROM generate_series(1, 5000) g;
     CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer int REFERENCES customer, total numeric(10,2));
     INSERT INTO orders (customer, total) SELECT 1 + g % 5000, g * 0.37 FROM generate_series(1, 20000) g;`,
    'app',
  );
  await createCatalogTable(dynamo.client(), TABLE);
  const storage = new S3Storage({ client: s3.client(), bucket: s3.bucket, prefix: '' });
  await openRepository(storage, { create: true });
  // The secret resolves to the test server's URL inside the "Lambda" tasks only.
  const credentials = new InProcessCredentials().register(SECRET, pg.url('app'));
  aws = await startLocalAws({
    stacks: {
      teststack: {
        BackupStateMachineArn: `${SM}teststack-backup`,
        RestoreStateMachineArn: `${SM}teststack-restore`,
        CatalogTableName: TABLE,
        RepositoryBucketName: 'teststack-repository',
        EventBusName: 'teststack-events',
      },
    },
    stateMachines: { [`${SM}teststack-backup`]: 'backup', [`${SM}teststack-restore`]: 'restore' },
    context: {
      storage,
      catalog: new DynamoDbCatalog({ client: dynamo.client(), tableName: TABLE }),
      databases: new PostgresConnector(credentials),
      progress: () => {},
    },
  });
  env = {
    AWS_ENDPOINT_URL_SFN: aws.url,
    AWS_ENDPOINT_URL_CLOUDFORMATION: aws.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: 'us-east-1',
    // s3rver checks signatures with its fixed keys; dynalite and the endpoint accept any.
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
});

afterAll(async () => {
  await aws?.close();
  await Promise.allSettled([dynamo?.stop(), s3?.stop(), pg?.stop()]);
});

describe('tidemark --stack (cloud mode)', () => {
  it('backup starts the backup state machine and prints the committed backup, with stats from DynamoDB', async () => {
    const result = await tidemark(['backup', '--source-secret', SECRET, '--json', '--range-bytes', '200000']);
    expectOk(result);
    backupId = result.json.backupId;
    expect(result.json).toMatchObject({
      ok: true,
      tables: 2,
      rows: 25_000,
      source: `127.0.0.1:${pg.port}/app`,
      serverVersion: expect.any(String),
    });
    expect(result.json.executionArn).toContain(':execution:teststack-backup:');
    expect(result.json.bytesStored).toBeGreaterThan(0);
    expect(result.stderr).toBe('');
    expect(await new DynamoDbCatalog({ client: dynamo.client(), tableName: TABLE }).getBackup(backupId)).toMatchObject({
      state: 'committed',
    });
    expect(aws.requests).toEqual(expect.arrayContaining(['DescribeStacks', 'StartExecution', 'DescribeExecution']));
    // The execution input names the secret, never a URL, and asks for the Lambda's export window.
    const { input } = await sfnClient().send(new DescribeExecutionCommand({ executionArn: result.json.executionArn }));
    expect(JSON.parse(input!)).toEqual({
      backupId,
      source: { credentials: SECRET },
      options: { workers: 4, snapshotHoldSeconds: 840, plan: { chunkBytes: expect.any(Number), rangeBytes: 200000 } },
    });
  });

  it('without --json, prints the backup id on stdout and progress from the execution history on stderr', async () => {
    const result = await tidemark([
      'backup',
      '--source-secret',
      SECRET,
      '--database',
      'app',
      '--range-bytes',
      '200000',
    ]);
    expectOk(result);
    expect(result.stdout.trim()).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(result.stderr).toContain(
      `started on stack teststack: ${SM.replace(':stateMachine:', ':execution:')}teststack-backup:${result.stdout.trim()}`,
    );
    expect(result.stderr).toMatch(/^backup: \w+/m);
    expect(result.stderr).toContain(`Backup ${result.stdout.trim()} committed: 2 tables, 25,000 rows`);
    // The same history, read with the SDK: ExportBatches ran as Map iterations the fold counts.
    const sfn = sfnClient();
    const executionArn = `${SM.replace(':stateMachine:', ':execution:')}teststack-backup:${result.stdout.trim()}`;
    const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const progress = foldHistory(emptyProgress(), events ?? []);
    expect(progress.maps.get('ExportBatches')?.done).toBeGreaterThanOrEqual(1);
    expect(progress.maps.get('ExportBatches')?.failed).toBe(0);
    expect(progress.state).toBe('EmitBackupCommitted');
  });

  it('backup --collection runs the collection incrementally: the second run has the first as parent', async () => {
    const catalog = new DynamoDbCatalog({ client: dynamo.client(), tableName: TABLE });
    const storage = new S3Storage({ client: s3.client(), bucket: s3.bucket, prefix: '' });
    // What the collection's first scheduled run does in AWS (backup/start.ts).
    await createCollection(
      { storage, catalog },
      {
        name: 'app-nightly',
        source: SECRET,
        sourceDescription: `127.0.0.1:${pg.port}/app`,
        retention: { keepLast: 7 },
      },
    );
    const first = await tidemark(['backup', '--source-secret', SECRET, '--collection', 'app-nightly', '--json']);
    expectOk(first);
    await pg.sql(`UPDATE customer SET name = name || '!' WHERE id % 100 = 0`, 'app');
    const second = await tidemark(['backup', '--source-secret', SECRET, '--collection', 'app-nightly', '--json']);
    expectOk(second);
    expect(second.json).toMatchObject({ collection: 'app-nightly', parent: first.json.backupId });
    expect(second.json.bytesStored).toBeLessThan(first.json.bytesStored / 10);
    expect(await catalog.getBackup(second.json.backupId)).toMatchObject({
      state: 'committed',
      collection: 'app-nightly',
      parent: first.json.backupId,
    });
  });

  it('restore latest into a new database: the rows match the source', async () => {
    const result = await tidemark([
      'restore',
      'latest',
      '--target-secret',
      SECRET,
      '--database',
      'app_restored',
      '--json',
    ]);
    expectOk(result);
    expect(result.json).toMatchObject({
      ok: true,
      tables: 2,
      rows: 25_000,
      target: `127.0.0.1:${pg.port}/app_restored`,
    });
    const { differences } = await compareDatabases(pg.url('app'), pg.url('app_restored'));
    expect(differences).toEqual([]);
  });

  it('list --json and show read the DynamoDB catalog; show adds the tables from the manifest in S3', async () => {
    const list = await tidemark(['list', '--json']);
    expectOk(list);
    expect(list.json.map((b: { backupId: string }) => b.backupId)).toContain(backupId);
    expect(list.json.find((b: { backupId: string }) => b.backupId === backupId)).toMatchObject({
      state: 'committed',
      stats: { rows: 25_000 },
    });
    const show = await tidemark(['show', backupId]);
    expectOk(show);
    expect(show.stdout).toContain(`Backup      ${backupId}`);
    expect(show.stdout).toMatch(/State\s+committed/);
    expect(show.stdout).toContain('2 tables, 25,000 rows');
    expect(show.stdout).toMatch(/^"public"\."customer"\s+binary\s+5,000\s/m);
    expect(show.stdout).toMatch(/^"public"\."orders"\s+binary\s+20,000\s/m);
    const latest = await tidemark(['show', 'latest', '--json']);
    expectOk(latest);
    expect(latest.json).toMatchObject({ state: 'committed', repository: 's3://teststack-repository/' });
    expect(latest.json.tables.map((t: { table: string; rows: number }) => [t.table, t.rows])).toEqual([
      ['"public"."customer"', 5000],
      ['"public"."orders"', 20000],
    ]);
  });

  it('--no-wait returns the execution ARN and run id as soon as the execution starts', async () => {
    const before = aws.requests.length;
    const result = await tidemark(['backup', '--source-secret', SECRET, '--no-wait', '--json']);
    expectOk(result);
    expect(result.json.executionArn).toBe(
      `${SM.replace(':stateMachine:', ':execution:')}teststack-backup:${result.json.runId}`,
    );
    expect(aws.requests.slice(before)).toEqual(['DescribeStacks', 'StartExecution']);
    const sfn = sfnClient();
    let status: string | undefined;
    for (
      let i = 0;
      i < 120 &&
      (status = (await sfn.send(new DescribeExecutionCommand({ executionArn: result.json.executionArn }))).status) ===
        'RUNNING';
      i++
    ) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe('SUCCEEDED');
  });

  it('a failing execution exits non-zero with the error type and message of the failed task', async () => {
    const result = await tidemark([
      'restore',
      '20200101T000000Z-000000',
      '--target-secret',
      SECRET,
      '--database',
      'never',
      '--json',
    ]);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.json.error).toMatchObject({ type: 'BackupNotFoundError' });
    expect(result.json.error.message).toContain('Backup 20200101T000000Z-000000 is not in the catalog');
    expect(result.stderr).toContain('tidemark: Backup 20200101T000000Z-000000 is not in the catalog');
  });

  it('refuses a connection URL with a password (credentials never travel in execution input) and a window past the Lambda limit', async () => {
    const before = aws.requests.length;
    const url = pg.url('app');
    for (const args of [
      ['--source', url],
      ['--source-secret', url],
    ]) {
      const result = await tidemark(['backup', ...args]);
      expect(result.code, describeResult(result)).toBe(2);
      expect(result.stderr).toContain('Secrets Manager');
      expect(result.stderr).toContain('--source-secret');
      expect(result.stdout + result.stderr).not.toContain(SUPERUSER_PASSWORD);
    }
    const restore = await tidemark(['restore', 'latest', '--target', url, '--database', 'x']);
    expect(restore.code, describeResult(restore)).toBe(2);
    expect(restore.stderr).toContain('--target-secret');
    const window = await tidemark(['backup', '--source-secret', SECRET, '--snapshot-hold-seconds', '3600']);
    expect(window.code, describeResult(window)).toBe(2);
    expect(window.stderr).toContain('at most 840 s with --stack');
    expect(aws.requests.slice(before)).not.toContain('StartExecution');
  });

  it('an unknown stack name is a clear usage error', async () => {
    const result = await runCli(['--stack', 'nosuchstack', 'list'], { env });
    expect(result.code, describeResult(result)).toBe(2);
    expect(result.stderr).toContain('tidemark: Stack "nosuchstack" does not exist in us-east-1');
  });
});

describe('progress read from an execution history', () => {
  // Event shapes as Step Functions returns them for an inline Map (the local endpoint's runner
  // reports no Map length, so MapStateStarted is checked here).
  const event = (id: number, type: string, details: object = {}): HistoryEvent => ({
    id,
    type: type as HistoryEvent['type'],
    timestamp: new Date(id * 1000),
    ...details,
  });
  const entered = (id: number, type: string, name: string) =>
    event(id, `${type}StateEntered`, { stateEnteredEventDetails: { name } });
  const exited = (id: number, type: string, name: string) =>
    event(id, `${type}StateExited`, { stateExitedEventDetails: { name } });
  const iteration = (id: number, outcome: 'Started' | 'Succeeded' | 'Failed', index: number) =>
    event(id, `MapIteration${outcome}`, { [`mapIteration${outcome}EventDetails`]: { name: 'ExportBatches', index } });
  const history = [
    event(1, 'ExecutionStarted'),
    entered(2, 'Task', 'StartBackup'),
    exited(3, 'Task', 'StartBackup'),
    entered(4, 'Parallel', 'SnapshotAndExport'),
    entered(5, 'Task', 'HoldSnapshot'),
    entered(6, 'Task', 'AwaitSnapshot'),
    exited(7, 'Task', 'AwaitSnapshot'),
    entered(8, 'Task', 'Plan'),
    exited(9, 'Task', 'Plan'),
    entered(10, 'Map', 'ExportBatches'),
    event(11, 'MapStateStarted', { mapStateStartedEventDetails: { length: 3 } }),
    iteration(12, 'Started', 0),
    iteration(13, 'Started', 1),
    entered(14, 'Task', 'ExportBatch'),
    entered(15, 'Task', 'ExportBatch'),
    exited(16, 'Task', 'ExportBatch'),
    iteration(17, 'Succeeded', 1),
  ];

  it('names the state outside Map iterations and counts iterations done of the Map length', () => {
    const progress = foldHistory(emptyProgress(), history);
    expect(describeProgress(progress)).toBe('ExportBatches: 1 of 3 batches done');
    expect(progress.lastEventId).toBe(17);
  });

  it('folds incrementally: pages newest first, repeats and later events', () => {
    const progress = foldHistory(emptyProgress(), history.slice(0, 12).reverse());
    expect(describeProgress(progress)).toBe('ExportBatches: 0 of 3 batches done');
    foldHistory(progress, history.slice(8).reverse());
    foldHistory(progress, [
      iteration(18, 'Failed', 0),
      iteration(19, 'Succeeded', 2),
      exited(20, 'Map', 'ExportBatches'),
      entered(21, 'Task', 'ReleaseSnapshot'),
    ]);
    expect(progress.maps.get('ExportBatches')).toEqual({ done: 2, failed: 1, total: 3 });
    expect(describeProgress(progress)).toBe('ReleaseSnapshot');
  });
});
