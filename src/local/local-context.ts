// Builds the ports for local mode: a repository (a directory, or `s3://bucket/prefix`), a catalog
// (the file catalog beside a directory repository, another directory, or `dynamodb://table`),
// and PostgreSQL reached through URLs held in this process. S3 and DynamoDB endpoints come from
// the SDK's standard variables (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL),
// so the same command talks to AWS or to local servers.
import { resolve, join } from 'node:path';
import { stat } from 'node:fs/promises';
import type { TaskContext, ProgressEvent } from '#core/task-context.ts';
import type { RepositoryStorage } from '#core/ports/storage.ts';
import type { BackupCatalog } from '#core/ports/catalog.ts';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { FileCatalog } from '#adapters/file-catalog.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { openRepository } from '#core/repository/repository.ts';
import { RepositoryError, UsageError } from '#core/errors.ts';
import { InProcessCredentials } from './credentials.ts';
import { thisProcess } from '#core/maintenance/run-liveness.ts';
import '#adapters/node-host.ts'; // provides the host to the core (run-liveness.ts)
import { authenticateWith } from '#core/repository/repository-key.ts';
import { loadRepositoryKey } from './repository-key-file.ts';
import type { DocumentAuthenticator } from '#core/repository/repository-key.ts';

export const DEFAULT_REPOSITORY = './tidemark-repo';
/** `dynamodb://<table>` or a directory; required for an s3:// repository. */
export const CATALOG_ENV = 'TIDEMARK_CATALOG';
const DYNAMODB_URL = /^dynamodb:\/\/([A-Za-z0-9_.-]{3,255})\/?$/;

/** An absolute directory, or an s3:// URL as given. */
export function repositoryPath(option: string | undefined): string {
  const repo = option ?? process.env.TIDEMARK_REPO ?? DEFAULT_REPOSITORY;
  return repo.startsWith('s3://') ? repo : resolve(repo);
}

export interface LocalContext extends TaskContext {
  credentials: InProcessCredentials;
}

export interface LocalContextOptions {
  create: boolean;
  progress?: (e: ProgressEvent) => void;
  /** `dynamodb://<table>` or a directory (default: $TIDEMARK_CATALOG, else `<repo>/catalog` for a directory repository). */
  catalog?: string;
  /** `repository seal` only: the marker is left to it (a repository written without a key does not open with one). */
  unsealed?: boolean;
}

export async function openLocalContext(repo: string, options: LocalContextOptions): Promise<LocalContext> {
  // The catalog first: a bad catalog option must fail before a repository is created.
  const catalog = await openCatalog(options.catalog ?? (process.env[CATALOG_ENV] || undefined), repo);
  const storage = repo.startsWith('s3://') ? await s3Storage(repo) : await directoryStorage(repo, options.create);
  const key = (await loadRepositoryKey({ create: options.create })) ?? (await kmsKeyFromEnvironment());
  if (key) authenticateWith(storage, key);
  if (!options.unsealed) await openRepository(storage, { create: options.create });
  const credentials = new InProcessCredentials();
  return {
    storage,
    catalog,
    databases: new PostgresConnector(credentials),
    credentials,
    progress: options.progress ?? (() => {}),
    runner: thisProcess(),
  };
}

async function directoryStorage(repo: string, create: boolean): Promise<RepositoryStorage> {
  const info = await stat(repo).catch(() => undefined);
  if (info && !info.isDirectory())
    throw new RepositoryError(`${repo} is not a Tidemark repository: it is a file, not a directory.`);
  if (!info && !create) {
    throw new RepositoryError(
      `${repo} is not a Tidemark repository: the directory does not exist. Pass --repo (default: $TIDEMARK_REPO, else ./tidemark-repo).`,
    );
  }
  return new FileSystemStorage(repo);
}

// The AWS SDK loads only for S3 or DynamoDB (about 0.4 s of every command's start otherwise).
async function s3Storage(url: string): Promise<RepositoryStorage> {
  const { S3Storage, createS3Client, parseS3Url } = await import('#adapters/s3-storage.ts');
  const parsed = parseS3Url(url);
  if (!parsed) throw new UsageError(`"${url}" is not an S3 repository URL. Use s3://bucket or s3://bucket/prefix.`);
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  return new S3Storage({ client: createS3Client({ region: region(), endpoint }), ...parsed });
}

async function openCatalog(option: string | undefined, repo: string): Promise<BackupCatalog> {
  if (option === undefined) {
    if (repo.startsWith('s3://')) {
      throw new UsageError(
        `An S3 repository (${repo}) needs a catalog: set ${CATALOG_ENV}=dynamodb://<table> (the DynamoDB catalog table), ` +
          'or a local directory to keep a file catalog in.',
      );
    }
    // The local catalog lives beside the data; it is an index, rebuildable from the repository.
    return new FileCatalog(join(repo, 'catalog'));
  }
  if (option.startsWith('dynamodb:')) {
    const table = DYNAMODB_URL.exec(option)?.[1];
    if (!table) throw new UsageError(`"${option}" is not a DynamoDB catalog URL. Use dynamodb://<table-name>.`);
    const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB || process.env.AWS_ENDPOINT_URL || undefined;
    const [{ DynamoDBDocumentClient }, { DynamoDbCatalog, createDynamoDbClient }] = await Promise.all([
      import('@aws-sdk/lib-dynamodb'),
      import('#adapters/dynamodb-catalog.ts'),
    ]);
    const client = createDynamoDbClient({ region: region(), endpoint });
    return new DynamoDbCatalog({ client: DynamoDBDocumentClient.from(client), tableName: table });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(option)) {
    throw new UsageError(`Unsupported catalog "${option}": use dynamodb://<table> or a directory.`);
  }
  return new FileCatalog(resolve(option));
}

/** The SDK's own region variables, else us-east-1 (local servers ignore it; it only signs requests). */
function region(): string {
  return process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
}

/**
 * A repository written in AWS is authenticated with the stack's KMS HMAC key: with
 * $TIDEMARK_KMS_MAC_KEY_ARN (the stack output RepositoryMacKeyArn) the CLI checks its documents
 * with it (the SDK loads only then).
 */
async function kmsKeyFromEnvironment(): Promise<DocumentAuthenticator | undefined> {
  const keyArn = process.env.TIDEMARK_KMS_MAC_KEY_ARN;
  if (!keyArn) return undefined;
  const [{ KMSClient }, { KmsDocumentKey }] = await Promise.all([
    import('@aws-sdk/client-kms'),
    import('#adapters/kms-document-key.ts'),
  ]);
  return new KmsDocumentKey({ client: new KMSClient({}), keyArn });
}
