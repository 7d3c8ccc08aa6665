// The AWS branch of the task context: outside the local runner a handler builds its ports from
// the Lambda environment (FUNCTION_ENV) once per container. Here the "container" is this test
// process, and the SDK's AWS_ENDPOINT_URL_* variables point it at s3rver, dynalite and a KMS
// stand-in that holds the repository key.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { buildAwsTaskContext } from '#functions/runtime/aws-context.ts';
import { currentTaskContext, isLocalRun } from '#functions/runtime/context.ts';
import { handler as failBackup } from '#functions/backup-fail.ts';
import { handler as startBackup } from '#functions/backup-start.ts';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { KMSClient } from '@aws-sdk/client-kms';
import { KmsDocumentKey } from '#adapters/kms-document-key.ts';
import { encodeDocument, encodeUnauthenticated, readDocument, writeDocument } from '#core/repository/documents.ts';
import { snapshotReleaseKind } from '#core/repository/document-formats.ts';
import { layout } from '#core/repository/layout.ts';
import { repositoryKeyOf } from '#core/repository/repository-key.ts';
import { startKms, type LocalKms } from '../support/local-kms.ts';
import { openLocalContext } from '#local/local-context.ts';
import { S3Storage, createS3Client } from '#adapters/s3-storage.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';

let s3: LocalS3;
let dynamo: LocalDynamoDb;
let kms: LocalKms;
const MAC_KEY = 'arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555';
const OTHER_KEY = 'arn:aws:kms:us-east-1:000000000000:key/99999999-8888-7777-6666-555555555555';
/** What a task needs in its environment besides the SDK's variables. */
const TASK_ENV = {
  [FUNCTION_ENV.bucket]: 'b',
  [FUNCTION_ENV.prefix]: '',
  [FUNCTION_ENV.catalogTable]: 't',
  [FUNCTION_ENV.macKeyArn]: MAC_KEY,
};

beforeAll(async () => {
  [s3, dynamo, kms] = await Promise.all([startS3rver(), startDynalite(), startKms()]);
  kms.addKey(MAC_KEY);
  kms.addKey(OTHER_KEY);
  await createCatalogTable(dynamo.client(), 'tidemark-catalog');
  const env: Record<string, string> = {
    [FUNCTION_ENV.bucket]: s3.bucket,
    [FUNCTION_ENV.prefix]: 'repo',
    [FUNCTION_ENV.catalogTable]: 'tidemark-catalog',
    [FUNCTION_ENV.macKeyArn]: MAC_KEY,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
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
  await Promise.allSettled([s3?.stop(), dynamo?.stop(), kms?.stop()]);
});

describe('the AWS task context', () => {
  it('a missing variable is named in the error', () => {
    const full = TASK_ENV;
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
    await ctx.catalog.createBackup({
      backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      source: 'db.example:5432/app',
    });
    const { error } = await failBackup({
      backupId,
      failure: { Error: 'SnapshotExpiredError', Cause: 'window passed' },
    });
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
    const env = { ...process.env, ...TASK_ENV };
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
    });
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
    const env = { ...process.env, ...TASK_ENV };
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env,
      encoding: 'utf8',
    });
    expect(child.status, child.stderr).toBe(0);
    const lines = (child.stdout + child.stderr)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const log = lines.find((l) => l.message === 'BackupCommit done');
    expect(log).toMatchObject({
      level: 'INFO',
      task: 'BackupCommit',
      backupId: '20261122T000000Z-0abcde',
      collection: 'nightly',
      rows: 1234,
      bytes: 56789,
    });
    const emf = lines.find((l) => l._aws?.CloudWatchMetrics);
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Tidemark',
      Dimensions: [expect.arrayContaining(['task'])],
    });
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
      // A string is refused by the task's input schema already (taskHandler), before the core sees it.
      ['600', /options\.snapshotHoldSeconds: .*expected number, received string/],
    ] as const) {
      const backupId = `20261122T00000${String(value).length}Z-0abcde`;
      const attempt = startBackup({ backupId, source, options: { snapshotHoldSeconds: value as number } });
      await expect(attempt, String(value)).rejects.toMatchObject({
        name: 'UsageError',
        message: expect.stringMatching(words),
      });
      expect(await ctx.catalog.getBackup(backupId)).toBeUndefined();
    }
  });
});

/** A sealed document with its body edited and its checksum recomputed, its header (and MAC) kept. */
function reseal(bytes: Uint8Array, edit: (body: any) => unknown): Uint8Array {
  const text = Buffer.from(bytes).toString('utf8');
  const newline = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, newline));
  const body = Buffer.from(JSON.stringify(edit(JSON.parse(text.slice(newline + 1)))));
  const resealed = { ...header, bodySha256: createHash('sha256').update(body).digest('hex'), bodyBytes: body.length };
  return Buffer.concat([Buffer.from(`${JSON.stringify(resealed)}\n`), body]);
}

const headerOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8').split('\n')[0]!);

describe('documents in AWS are authenticated with the KMS repository key', () => {
  const runId = (n: number) => `20261207T00000${n}Z-0abcde`;
  const at = '2026-12-07T00:00:00.000Z';

  it('a document written through the Lambda context carries a KMS MAC that the context verifies', async () => {
    const ctx = await currentTaskContext();
    const before = kms.requests.length;
    expect(await writeDocument(ctx.storage, snapshotReleaseKind, { runId: runId(1) }, { at })).toBe(true);
    const header = headerOf(await ctx.storage.get(layout.snapshotReleased(runId(1))));
    expect(header).toMatchObject({
      keyId: repositoryKeyOf(ctx.storage)!.id,
      mac: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(header.keyId).toMatch(/^kms-[0-9a-f]{16}$/);
    // The key id names the key without its ARN (account id, key id) in the repository.
    expect(header.keyId).not.toContain('000000000000');
    expect(await readDocument(ctx.storage, snapshotReleaseKind, { runId: runId(1) })).toEqual({ at });
    expect(kms.requests.slice(before)).toEqual([`GenerateMac ${MAC_KEY}`, `VerifyMac ${MAC_KEY}`]);
  });

  it("the CLI checks documents with the stack's KMS key from $TIDEMARK_KMS_MAC_KEY_ARN; without a key it refuses them, saying what to set", async () => {
    const repo = `s3://${s3.bucket}/cli`;
    const catalog = 'dynamodb://tidemark-catalog';
    const created = await openLocalContext(repo, { create: true, catalog });
    expect(repositoryKeyOf(created.storage)?.id).toBe(repositoryKeyOf((await currentTaskContext()).storage)!.id);
    await writeDocument(created.storage, snapshotReleaseKind, { runId: runId(7) }, { at });
    const cli = await openLocalContext(repo, { create: false, catalog });
    expect(await readDocument(cli.storage, snapshotReleaseKind, { runId: runId(7) })).toEqual({ at });
    const unkeyed = new S3Storage({ client: createS3Client({}), bucket: s3.bucket, prefix: 'cli' });
    await expect(readDocument(unkeyed, snapshotReleaseKind, { runId: runId(7) })).rejects.toThrow(
      /no key is set here.*TIDEMARK_KMS_MAC_KEY_ARN/,
    );
  });

  it('refuses, by name, a document edited and re-sealed without the key, one written without a MAC, and one MACed by another KMS key', async () => {
    const ctx = await currentTaskContext();
    const ours = repositoryKeyOf(ctx.storage)!;
    const other = new KmsDocumentKey({ client: new KMSClient({}), keyArn: OTHER_KEY });
    const plant = async (n: number, bytes: Uint8Array) => {
      expect(await ctx.storage.putIfAbsent(layout.snapshotReleased(runId(n)), bytes)).toBe(true);
      return readDocument(ctx.storage, snapshotReleaseKind, { runId: runId(n) });
    };
    const genuine = await encodeDocument(snapshotReleaseKind, { runId: runId(2) }, { at }, ours);
    const what = (n: number) => `Snapshot release runs/${runId(n)}/snapshot-released.json`;
    // Edited and re-sealed: the checksum holds, the MAC does not.
    await expect(
      plant(
        2,
        reseal(genuine, () => ({ at: '2030-01-01T00:00:00.000Z' })),
      ),
    ).rejects.toMatchObject({
      name: 'IntegrityError',
      message: expect.stringContaining(`${what(2)} does not authenticate`),
    });
    // Without any MAC.
    await expect(plant(3, encodeUnauthenticated(snapshotReleaseKind, { runId: runId(3) }, { at }))).rejects.toThrow(
      `${what(3)} carries no authentication`,
    );
    // MACed by another KMS key, under its own key id …
    await expect(
      plant(4, await encodeDocument(snapshotReleaseKind, { runId: runId(4) }, { at }, other)),
    ).rejects.toThrow(
      `${what(4)} was authenticated with another key (key id ${other.id}; this repository's key is ${ours.id})`,
    );
    // … and passing as ours: KMS's VerifyMac says no.
    const impostor = { id: ours.id, mac: (m: string) => other.mac(m), verify: () => Promise.resolve(true) };
    await expect(
      plant(5, await encodeDocument(snapshotReleaseKind, { runId: runId(5) }, { at }, impostor)),
    ).rejects.toThrow(`${what(5)} does not authenticate`);
    // The genuine document, where it belongs, still reads.
    expect(await plant(6, await encodeDocument(snapshotReleaseKind, { runId: runId(6) }, { at }, ours))).toEqual({
      at,
    });
  });

  it('a key KMS refuses, or throttling that outlasts the retries, fails naming the key and what to do, and never as "not authentic"', async () => {
    const ctx = await currentTaskContext();
    const unknown = 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000';
    const denied = new KmsDocumentKey({ client: new KMSClient({}), keyArn: unknown });
    await expect(denied.mac('m')).rejects.toMatchObject({
      name: 'RepositoryError',
      message: expect.stringMatching(
        new RegExp(`kms:GenerateMac on the repository key ${unknown}.*Its role must be granted kms:GenerateMac`),
      ),
    });
    const genuine = await repositoryKeyOf(ctx.storage)!.mac('m');
    await expect(denied.verify('m', genuine)).rejects.toMatchObject({
      name: 'RepositoryError',
      message: expect.stringContaining(`kms:VerifyMac on the repository key ${unknown}`),
    });
    kms.failNext('ThrottlingException');
    const once = new KmsDocumentKey({ client: new KMSClient({ maxAttempts: 1 }), keyArn: MAC_KEY });
    await expect(once.verify('m', genuine)).rejects.toMatchObject({
      name: 'TransientError',
      message: expect.stringContaining(
        `KMS VerifyMac on the repository key ${MAC_KEY} failed for now (ThrottlingException)`,
      ),
    });
    expect(await once.verify('m', genuine)).toBe(true);
    expect(await once.verify('n', genuine)).toBe(false);
  });
});
