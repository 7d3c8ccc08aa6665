// The repository marker of a repository the AWS stack made: the first backup through the Lambda
// context (S3 on s3rver, DynamoDB on dynalite, KMS and Secrets Manager on local stand-ins)
// writes tidemark.json, authenticated with the stack's KMS key, so the local CLI opens the same
// bucket with $TIDEMARK_KMS_MAC_KEY_ARN. A marker that is forged, or replaced under a task that
// opened the repository, stops the backup at its start, by name, before anything is recorded.
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { KmsDocumentKey } from '#adapters/kms-document-key.ts';
import { buildAwsTaskContext } from '#functions/runtime/aws-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import type { TaskContext } from '#core/task-context.ts';
import { encodeDocument, encodeUnauthenticated } from '#core/repository/documents.ts';
import { repositoryMarkerKind } from '#core/repository/document-formats.ts';
import { FORMAT_VERSION } from '#core/repository/sealed-document.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { layout } from '#core/repository/layout.ts';
import { listKeys } from '../contract/storage-contract.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { startKms, type LocalKms } from '../support/local-kms.ts';
import { startSecretsManager, type LocalSecretsManager } from '../support/local-secrets-manager.ts';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';

const TABLE = 'tidemark-marker';
const MAC_KEY = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
const OTHER_KEY = 'arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555';
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:tidemark/app-AbCdEf';
const SOURCE = { source: { credentials: SECRET, database: 'app' }, options: { workers: 2, snapshotHoldSeconds: 600 } };

let server: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;
let kms: LocalKms;
let secrets: LocalSecretsManager;
/** The SDK's variables, as a user of the CLI would set them for these servers. */
let awsEnv: Record<string, string>;

beforeAll(async () => {
  [server, s3, dynamo, kms, secrets] = await Promise.all([
    startPostgres({ major: 15 }),
    startS3rver(),
    startDynalite(),
    startKms(),
    startSecretsManager(),
  ]);
  kms.addKey(MAC_KEY);
  kms.addKey(OTHER_KEY);
  await createCatalogTable(dynamo.client(), TABLE);
  await server.createDatabase('app');
  await server.sql(
    `CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL);
     INSERT INTO customer SELECT g, 'customer ' || g FROM generate_series(1, 3000) g;`,
    'app',
  );
  secrets.secrets.set(
    SECRET,
    JSON.stringify({
      engine: 'postgres',
      host: '127.0.0.1',
      port: server.port,
      username: SUPERUSER,
      password: SUPERUSER_PASSWORD,
      dbname: 'app',
      sslmode: 'disable',
    }),
  );
  awsEnv = {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: 'us-east-1',
  };
  for (const [name, value] of Object.entries(awsEnv)) vi.stubEnv(name, value);
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([server?.stop(), s3?.stop(), dynamo?.stop(), kms?.stop(), secrets?.stop()]);
});

/** One Lambda container's context for the repository under `prefix` (all share the table and key). */
function container(prefix: string): TaskContext {
  return buildAwsTaskContext({
    ...process.env,
    [FUNCTION_ENV.bucket]: s3.bucket,
    [FUNCTION_ENV.prefix]: prefix,
    [FUNCTION_ENV.catalogTable]: TABLE,
    [FUNCTION_ENV.macKeyArn]: MAC_KEY,
  });
}

const markerKey = (prefix: string) => `${prefix}/tidemark.json`;
const getMarker = async (prefix: string) => Buffer.from(await container(prefix).storage.get('tidemark.json'));
const headerOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8').split('\n')[0]!);
const bodyOf = (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8').split('\n')[1]!);

async function plantMarker(prefix: string, bytes: Uint8Array): Promise<void> {
  const client = s3.client();
  await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: markerKey(prefix) }));
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: markerKey(prefix), Body: bytes }));
}

/** The CLI in a child process on `s3://<bucket>/<prefix>`, with the stack's key unless told otherwise. */
function cli(args: string[], prefix: string, env: Record<string, string | undefined> = {}) {
  return runCli([...args, '--repo', `s3://${s3.bucket}/${prefix}`], {
    env: {
      ...awsEnv,
      TIDEMARK_CATALOG: `dynamodb://${TABLE}`,
      TIDEMARK_KMS_MAC_KEY_ARN: MAC_KEY,
      // s3rver's ListObjectsV2 paging (LOCAL-STACK.md).
      NODE_OPTIONS: '--openssl-legacy-provider',
      ...env,
    },
  });
}

describe('the first backup in AWS writes the repository marker', () => {
  const backups: string[] = [];

  beforeAll(async () => {
    const ctx = container('aws');
    expect(await listKeys(ctx.storage, '')).toEqual([]);
    for (let run = 0; run < 2; run++) backups.push((await runStateMachine('backup', SOURCE, ctx)).backupId);
  }, 300_000);

  it('tidemark.json is there once, authenticated with the stack KMS key, and later starts keep it', async () => {
    const marker = await getMarker('aws');
    const ctx = container('aws');
    expect(headerOf(marker)).toMatchObject({
      format: 'tidemark-repository',
      formatVersion: FORMAT_VERSION,
      key: 'tidemark.json',
      keyId: new KmsDocumentKey({ client: new KMSClient({}), keyArn: MAC_KEY }).id,
      mac: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(bodyOf(marker)).toMatchObject({ repositoryId: expect.any(String), keyId: expect.stringMatching(/^kms-/) });
    // The second run read it and wrote nothing over it (its MAC, and so its bytes, are the first's).
    expect((await runStateMachine('backup', SOURCE, ctx)).backupId).toBeDefined();
    expect(Buffer.compare(await getMarker('aws'), marker)).toBe(0);
  });

  it("the CLI lists and verifies the repository AWS wrote, with the stack's KMS key", async () => {
    const list = await cli(['list', '--json'], 'aws');
    expect(list.code, describeResult(list)).toBe(0);
    expect(list.json.map((b: { backupId: string; state: string }) => [b.backupId, b.state])).toEqual(
      expect.arrayContaining(backups.map((id) => [id, 'committed'])),
    );
    for (const id of [backups[0]!, 'latest']) {
      const verify = await cli(['verify', id], 'aws');
      expect(verify.code, describeResult(verify)).toBe(0);
    }
  });

  it('without the key, the CLI refuses the repository and says which variable to set', async () => {
    const list = await cli(['list'], 'aws', { TIDEMARK_KMS_MAC_KEY_ARN: undefined });
    expect(list.code, describeResult(list)).not.toBe(0);
    expect(list.stderr).toContain('TIDEMARK_KMS_MAC_KEY_ARN');
  });
});

describe('a start refuses a marker it cannot trust, by name, and records nothing', () => {
  /** Runs a backup into `prefix` with `ctx`, expecting its start to refuse; returns the error message. */
  async function refusedStart(prefix: string, ctx: TaskContext = container(prefix)): Promise<string> {
    const before = await ctx.catalog.listBackups();
    const keysBefore = await listKeys(ctx.storage, '');
    const error: Error = await runStateMachine('backup', SOURCE, ctx).then(
      () => expect.fail('the backup ran on a marker it cannot trust'),
      (err: Error) => err,
    );
    expect(await ctx.catalog.listBackups(), 'nothing recorded').toEqual(before);
    expect(await listKeys(ctx.storage, ''), 'nothing written').toEqual(keysBefore);
    expect(error.message).toContain(`s3://${s3.bucket}/${prefix}`);
    return error.message;
  }

  const marker = (repositoryId: string) => ({
    repositoryId,
    createdAt: new Date().toISOString(),
    formatVersion: FORMAT_VERSION,
  });

  it('edited and re-sealed (checksum recomputed, MAC kept)', async () => {
    const genuine = await getMarker('aws');
    const body = Buffer.from(JSON.stringify({ ...bodyOf(genuine), repositoryId: 'forged' }));
    const header = {
      ...headerOf(genuine),
      bodySha256: createHash('sha256').update(body).digest('hex'),
      bodyBytes: body.length,
    };
    await plantMarker('edited', Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]));
    expect(await refusedStart('edited')).toMatch(/Repository marker tidemark\.json does not authenticate/);
  });

  it('written without a MAC', async () => {
    await plantMarker('unsigned', encodeUnauthenticated(repositoryMarkerKind, {}, marker('unsigned')));
    expect(await refusedStart('unsigned')).toMatch(/its marker tidemark\.json names none, or was forged without one/);
  });

  it('MACed by another KMS key', async () => {
    const other = new KmsDocumentKey({ client: new KMSClient({}), keyArn: OTHER_KEY });
    const bytes = await encodeDocument(repositoryMarkerKind, {}, { ...marker('other'), keyId: other.id }, other);
    await plantMarker('other-key', bytes);
    expect(await refusedStart('other-key')).toMatch(
      /Repository marker tidemark\.json was authenticated with another key/,
    );
  });

  it("replaced, under a container that opened the repository, by another repository's genuine marker", async () => {
    const ctx = container('replaced');
    await runStateMachine('backup', SOURCE, ctx);
    const opened = bodyOf(await getMarker('replaced')).repositoryId;
    const foreign = await getMarker('aws');
    await plantMarker('replaced', foreign);
    const message = await refusedStart('replaced', ctx);
    expect(message).toContain(
      `Repository marker tidemark.json at s3://${s3.bucket}/replaced names repository ${bodyOf(foreign).repositoryId}, but this process opened repository ${opened} there`,
    );
  });
});

describe("a task's container that ran no BackupStart binds to the repository its marker names", () => {
  it('a manifest copied from another repository under the same KMS key is refused by name, as locally', async () => {
    // Another repository ("twin") of the same stack key, with a backup of its own.
    const twin = container('twin');
    const { backupId } = await runStateMachine('backup', SOURCE, twin);
    const twinId = bodyOf(await getMarker('twin')).repositoryId;
    const awsId = bodyOf(await getMarker('aws'))?.repositoryId;
    const manifestKey = layout.manifest(backupId);
    await s3.client().send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `aws/${manifestKey}`,
        Body: await twin.storage.get(manifestKey),
      }),
    );
    // A fresh container (a restore's Resolve, a gc): its first document reads the marker first.
    const fresh = container('aws');
    const error: Error = await readManifest(fresh.storage, backupId).then(
      () => expect.fail('a document of another repository was used'),
      (err: Error) => err,
    );
    expect(error.message).toContain(`belongs to repository ${twinId}, not to this one (${awsId})`);
    // The repository's own manifests still read in a fresh container.
    expect(
      (await readManifest(container('aws').storage, (await container('aws').catalog.listBackups())[0]!.backupId))
        .backupId,
    ).toBeDefined();
    await s3.client().send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `aws/${manifestKey}` }));
  });
});
