// The AWS branch of the task context: outside the local runner a handler builds its ports from
// the Lambda environment (FUNCTION_ENV) once per container. Here the "container" is this test
// process, and the SDK's AWS_ENDPOINT_URL_* variables point it at s3rver and dynalite.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { buildAwsTaskContext } from '#functions/runtime/aws-context.ts';
import { currentTaskContext, isLocalRun } from '#functions/runtime/context.ts';
import { handler as failBackup } from '#functions/backup-fail.ts';
import { handler as startBackup } from '#functions/backup-start.ts';
import { spawnSync } from 'node:child_process';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from './support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from './support/dynalite.ts';

let s3: LocalS3;
let dynamo: LocalDynamoDb;

beforeAll(async () => {
  [s3, dynamo] = await Promise.all([startS3rver(), startDynalite()]);
  await createCatalogTable(dynamo.client(), 'tidemark-catalog');
  const env: Record<string, string> = {
    [FUNCTION_ENV.bucket]: s3.bucket,
    [FUNCTION_ENV.prefix]: 'repo',
    [FUNCTION_ENV.catalogTable]: 'tidemark-catalog',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
    // Nothing here may reach AWS: a Secrets Manager call would fail fast on this closed port.
    AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9',
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([s3?.stop(), dynamo?.stop()]);
});

describe('the AWS task context', () => {
  it('a missing variable is named in the error', () => {
    const full = { [FUNCTION_ENV.bucket]: 'b', [FUNCTION_ENV.prefix]: '', [FUNCTION_ENV.catalogTable]: 't' };
    for (const name of Object.values(FUNCTION_ENV)) {
      const env = { ...full, [name]: undefined };
      expect(() => buildAwsTaskContext(env), name).toThrow(`Environment variable ${name} is not set`);
    }
    expect(buildAwsTaskContext(full).storage.location).toBe('s3://b');
  });

  it('outside the local runner, a handler runs on S3 and DynamoDB from the environment, built once', async () => {
    expect(isLocalRun()).toBe(false);
    const ctx = await currentTaskContext();
    expect(await currentTaskContext()).toBe(ctx);
    expect(ctx.storage.location).toBe(`s3://${s3.bucket}/repo`);
    // A real task: MarkBackupFailed releases the snapshot in S3 and fails the run in DynamoDB.
    const backupId = '20261121T000000Z-abcdef';
    await ctx.catalog.createBackup({ backupId, state: 'running', startedAt: new Date().toISOString(), source: 'db.example:5432/app' });
    const { error } = await failBackup({ backupId, failure: { Error: 'SnapshotExpiredError', Cause: 'window passed' } });
    expect(error).toBe('SnapshotExpiredError: window passed');
    expect(await ctx.catalog.getBackup(backupId)).toMatchObject({ backupId, state: 'failed', error });
    expect(await ctx.storage.head(`runs/${backupId}/snapshot-released.json`)).toBeDefined();
    // Storage works through the same context (path-style to an IP endpoint).
    expect(await ctx.storage.putIfAbsent('probe', new Uint8Array([7]))).toBe(true);
    expect(Array.from(await ctx.storage.get('probe'))).toEqual([7]);
  });

  it('a failing task logs its error type and message for CloudWatch, and rethrows it (errorMessage, trace, Cause), with any password redacted', async () => {
    // The failure is made up: real ones never carry a password (the error classes describe a
    // server as host:port/database), and this checks the last line of defence, the log itself.
    // In a child process, as in a Lambda: the logger writes JSON lines to its stdout or stderr.
    const script = `
      import { taskHandler } from '#functions/runtime/task-handler.ts';
      const failing = taskHandler('RestoreLoadBatch', async () => {
        throw new Error('could not connect to postgres://app:Pw-SeCrEt-42@db.example:5432/shop (password=Pw-SeCrEt-42)');
      });
      await failing({}).then(() => process.exit(3), (err) => process.exit(err.name === 'Error' && err.message.includes('db.example:5432') && !(err.message + err.stack).includes('Pw-SeCrEt-42') ? 0 : 4));`;
    const env = { ...process.env, [FUNCTION_ENV.bucket]: 'b', [FUNCTION_ENV.prefix]: '', [FUNCTION_ENV.catalogTable]: 't' };
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const text = child.stdout + child.stderr;
    expect(text).toContain('RestoreLoadBatch failed');
    expect(text).toContain('db.example:5432/shop');
    expect(text).not.toContain('Pw-SeCrEt-42');
  });

  it('a task that ends logs one line keyed by the task and the run ids, and publishes its seconds, rows and bytes as EMF metrics', () => {
    const script = `
      import { taskHandler } from '#functions/runtime/task-handler.ts';
      const done = taskHandler('BackupCommit', async () => ({ backupId: '20261122T000000Z-0abcde', rows: 1234, bytesRead: 56789 }));
      await done({ backupId: '20261122T000000Z-0abcde', collection: 'nightly' });`;
    const env = { ...process.env, [FUNCTION_ENV.bucket]: 'b', [FUNCTION_ENV.prefix]: '', [FUNCTION_ENV.catalogTable]: 't' };
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const lines = (child.stdout + child.stderr).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const log = lines.find((l) => l.message === 'BackupCommit done');
    expect(log).toMatchObject({ level: 'INFO', task: 'BackupCommit', backupId: '20261122T000000Z-0abcde', collection: 'nightly', rows: 1234, bytes: 56789 });
    const emf = lines.find((l) => l._aws?.CloudWatchMetrics);
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Tidemark', Dimensions: [expect.arrayContaining(['task'])] });
    expect(emf).toMatchObject({ task: 'BackupCommit', Rows: 1234, Bytes: 56789, Succeeded: 1 });
    expect(typeof emf.Seconds).toBe('number');
  });

  it('StartBackup refuses an export window a Lambda cannot hold, before it records or connects to anything', async () => {
    const ctx = await currentTaskContext();
    expect(ctx.maxSnapshotHoldSeconds).toBe(840);
    const source = { credentials: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:app' };
    for (const [value, words] of [
      [3600, /snapshotHoldSeconds 3600 .* at most 840 s/],
      [0, /must be a positive number of seconds, not 0/],
      ['600', /must be a positive number of seconds, not "600"/],
    ] as const) {
      const backupId = `20261122T00000${String(value).length}Z-0abcde`;
      const attempt = startBackup({ backupId, source, options: { snapshotHoldSeconds: value as number } });
      await expect(attempt, String(value)).rejects.toMatchObject({ name: 'UsageError', message: expect.stringMatching(words) });
      expect(await ctx.catalog.getBackup(backupId)).toBeUndefined();
    }
  });
});
