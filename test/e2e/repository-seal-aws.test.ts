// Issue 11: sealing an S3 repository written without a key, for an AWS stack (whose tasks always
// authenticate with its KMS key): the local CLI on the s3:// URL with $TIDEMARK_KMS_MAC_KEY_ARN
// and the DynamoDB catalog. After the seal the stack's tasks read its documents. A bucket that had
// no marker gets a keyed one from the upgraded stack's first StartBackup before any seal: its
// unauthenticated documents are then sealed only with --reseal.
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { buildAwsTaskContext } from '#functions/runtime/aws-context.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { ensureRepositoryMarker } from '#core/repository/repository.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { startKms, type LocalKms } from '../support/local-kms.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';

const TABLE = 'tidemark-seal';
const MAC_KEY = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';

let pg: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;
let kms: LocalKms;
let awsEnv: Record<string, string>;

beforeAll(async () => {
  [pg, s3, dynamo, kms] = await Promise.all([startPostgres({ major: 15 }), startS3rver(), startDynalite(), startKms()]);
  kms.addKey(MAC_KEY);
  await createCatalogTable(dynamo.client(), TABLE);
  await pg.createDatabase('app');
  await pg.sql(
    `CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO customer SELECT g, 'customer ' || g FROM generate_series(1, 3000) g;`,
    'app',
  );
  awsEnv = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  for (const [name, value] of Object.entries(awsEnv)) vi.stubEnv(name, value);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([pg?.stop(), s3?.stop(), dynamo?.stop(), kms?.stop()]);
});

/** The stack's view of the repository under `prefix`: its tasks' storage, with the KMS key. */
const stackStorage = (prefix: string) =>
  buildAwsTaskContext({
    ...process.env,
    [FUNCTION_ENV.bucket]: s3.bucket,
    [FUNCTION_ENV.prefix]: prefix,
    [FUNCTION_ENV.catalogTable]: TABLE,
    [FUNCTION_ENV.macKeyArn]: MAC_KEY,
  }).storage;

/** The local CLI on s3://<bucket>/<prefix>; with the stack's KMS key when `keyed`. */
function cli(args: string[], prefix: string, keyed: boolean) {
  return runCli([...args, '--repo', `s3://${s3.bucket}/${prefix}`, '--json'], {
    env: {
      ...awsEnv,
      TIDEMARK_CATALOG: `dynamodb://${TABLE}`,
      TIDEMARK_KMS_MAC_KEY_ARN: keyed ? MAC_KEY : undefined,
      NODE_OPTIONS: '--openssl-legacy-provider', // s3rver's ListObjectsV2 paging (LOCAL-STACK.md)
    },
  });
}

async function unkeyedBackup(prefix: string): Promise<string> {
  const backup = await cli(['backup', '--source', pg.url('app')], prefix, false);
  expect(backup.code, describeResult(backup)).toBe(0);
  return backup.json.backupId;
}

describe('repository seal on S3 with the stack KMS key', () => {
  it('seals a repository written without a key; the stack then reads it', async () => {
    const id = await unkeyedBackup('old');
    const before = await cli(['verify', id], 'old', true);
    expect(before.code).not.toBe(0);
    expect(before.json.error.message).toMatch(/created without a repository key/);
    // A task's container reads the marker before its first document (aws-context.ts): refused there.
    await expect(readManifest(stackStorage('old'), id)).rejects.toThrow(/created without a repository key/);

    const sealed = await cli(['repository', 'seal'], 'old', true);
    expect(sealed.code, describeResult(sealed)).toBe(0);
    expect(sealed.json).toMatchObject({
      ok: true,
      markerSealed: true,
      refused: [],
      keyId: expect.stringMatching(/^kms-/),
    });
    expect(sealed.json.sealed).toContain(`backups/${id}/manifest.json`);
    expect(kms.requests.some((r) => r.startsWith('GenerateMac '))).toBe(true);

    const after = await cli(['verify', id], 'old', true);
    expect(after.code, describeResult(after)).toBe(0);
    expect((await readManifest(stackStorage('old'), id)).backupId).toBe(id);
  }, 120_000);

  it('a bucket without a marker, which the upgraded stack keyed first, is sealed with --reseal', async () => {
    const id = await unkeyedBackup('nomarker');
    await s3.client().send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: 'nomarker/tidemark.json' }));
    // The upgraded stack's first StartBackup writes a marker naming its key.
    const storage = stackStorage('nomarker');
    expect((await ensureRepositoryMarker(storage)).keyId).toMatch(/^kms-/);
    await expect(readManifest(storage, id)).rejects.toThrow(/carries no authentication/);

    const plain = await cli(['repository', 'seal'], 'nomarker', true);
    expect(plain.code, describeResult(plain)).toBe(0);
    expect(plain.json.sealed).toEqual([]);
    expect(plain.json.refused.map((r: { key: string }) => r.key)).toContain(`backups/${id}/manifest.json`);

    const resealed = await cli(['repository', 'seal', '--reseal'], 'nomarker', true);
    expect(resealed.code, describeResult(resealed)).toBe(0);
    expect(resealed.json.sealed).toContain(`backups/${id}/manifest.json`);
    expect((await readManifest(stackStorage('nomarker'), id)).backupId).toBe(id);
  }, 120_000);
});
