// The TaskContext of a Lambda container: S3 repository authenticated with the KMS HMAC key,
// DynamoDB catalog, databases reached through Secrets Manager. Built on first use and kept for
// the container's life, so warm invocations reuse clients, sockets and cached secrets; nothing
// touches AWS at import time.
// Region and credentials come from the Lambda environment (AWS_REGION, the execution role).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KMSClient } from '@aws-sdk/client-kms';
import type { TaskContext } from '#core/task-context.ts';
import { TidemarkError } from '#core/errors.ts';
import { LAMBDA_SNAPSHOT_HOLD_SECONDS } from '#core/backup/hold-snapshot.ts';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { S3Storage, createS3Client } from '#adapters/s3-storage.ts';
import { DynamoDbCatalog, createDynamoDbClient } from '#adapters/dynamodb-catalog.ts';
import { KmsDocumentKey } from '#adapters/kms-document-key.ts';
import { authenticateWith, bindOnFirstDocument } from '#core/repository/repository-key.ts';
import { bindToMarker } from '#core/repository/repository.ts';
import { SecretsManagerCredentials } from '#adapters/secrets-manager-credentials.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import '#adapters/node-host.ts'; // provides the host to the core (run-liveness.ts)
import { logger } from './logger.ts';

/** Like the S3 client: ride out throttling and 5xx with backoff before failing the task. */
const AWS_MAX_ATTEMPTS = 6;

let context: TaskContext | undefined;

export function awsTaskContext(env: NodeJS.ProcessEnv = process.env): TaskContext {
  context ??= buildAwsTaskContext(env);
  return context;
}

/** The SDK clients of one container, built with the retry settings every task uses. */
export interface AwsClients {
  s3: S3Client;
  dynamodb: DynamoDBClient;
  secretsManager: SecretsManagerClient;
  /** GenerateMac / VerifyMac on the repository key. */
  kms: KMSClient;
}

export function createAwsClients(): AwsClients {
  return {
    s3: createS3Client({ maxAttempts: AWS_MAX_ATTEMPTS }),
    dynamodb: createDynamoDbClient(),
    secretsManager: new SecretsManagerClient({ maxAttempts: AWS_MAX_ATTEMPTS, retryMode: 'standard' }),
    kms: new KMSClient({ maxAttempts: AWS_MAX_ATTEMPTS, retryMode: 'standard' }),
  };
}

/** `clients` are injected by the grants test (test/e2e/aws-grants.test.ts), which records their calls. */
export function buildAwsTaskContext(env: NodeJS.ProcessEnv, clients: AwsClients = createAwsClients()): TaskContext {
  const bucket = required(env, FUNCTION_ENV.bucket);
  const tableName = required(env, FUNCTION_ENV.catalogTable);
  // Required, not optional: a task without the key would accept unauthenticated documents
  // (DESIGN.md invariant 10), and the stack always sets it.
  const macKeyArn = required(env, FUNCTION_ENV.macKeyArn);
  // The prefix may be empty (repository at the bucket root) but must be set, so a typo shows.
  const prefix = env[FUNCTION_ENV.prefix];
  if (prefix === undefined) throw missing(FUNCTION_ENV.prefix);
  // As local-context.ts attaches the local key: the document registry finds it on the storage.
  const storage = new S3Storage({ client: clients.s3, bucket, prefix });
  authenticateWith(storage, new KmsDocumentKey({ client: clients.kms, keyArn: macKeyArn }));
  // Documents name the repository they belong to and a copy from another one is refused
  // (FORMAT.md, "Documents"): the container learns its repository from the marker, once.
  bindOnFirstDocument(storage, () => bindToMarker(storage));
  return {
    storage,
    catalog: new DynamoDbCatalog({ client: DynamoDBDocumentClient.from(clients.dynamodb), tableName }),
    databases: new PostgresConnector(new SecretsManagerCredentials({ client: clients.secretsManager }), {
      onConnected: (where) => logger.info('connected', { database: where }),
    }),
    progress: () => {}, // nobody watches a Lambda's progress; Step Functions shows the states
    maxSnapshotHoldSeconds: LAMBDA_SNAPSHOT_HOLD_SECONDS,
  };
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw missing(name);
  return value;
}

function missing(name: string): TidemarkError {
  return new TidemarkError(
    `Environment variable ${name} is not set: this task function cannot find its ${describe(name)}. ` +
      'Deploy it with the Tidemark CDK stack, which sets it.',
  );
}

function describe(name: string): string {
  if (name === FUNCTION_ENV.bucket) return 'repository bucket';
  if (name === FUNCTION_ENV.prefix) return 'repository prefix';
  if (name === FUNCTION_ENV.macKeyArn) return 'repository key (the KMS HMAC key that authenticates documents)';
  return 'catalog table';
}
