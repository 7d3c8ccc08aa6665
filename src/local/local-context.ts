// Builds the ports for local mode: a directory repository, the file catalog beside it, and
// PostgreSQL reached through URLs held in this process.
import { resolve, join } from 'node:path';
import { stat } from 'node:fs/promises';
import type { TaskContext, ProgressEvent } from '#core/task-context.ts';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { FileCatalog } from '#adapters/file-catalog.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { openRepository } from '#core/repository/repository.ts';
import { RepositoryError, UsageError } from '#core/errors.ts';
import { InProcessCredentials } from './credentials.ts';

export const DEFAULT_REPOSITORY = './tidemark-repo';

export function repositoryPath(option: string | undefined): string {
  return resolve(option ?? process.env.TIDEMARK_REPO ?? DEFAULT_REPOSITORY);
}

export interface LocalContext extends TaskContext {
  credentials: InProcessCredentials;
}

export async function openLocalContext(
  repo: string,
  options: { create: boolean; progress?: (e: ProgressEvent) => void },
): Promise<LocalContext> {
  if (repo.startsWith('s3://')) {
    throw new UsageError(`S3 repositories (${repo}) are not supported by this version yet; use a directory.`);
  }
  const info = await stat(repo).catch(() => undefined);
  if (info && !info.isDirectory()) throw new RepositoryError(`${repo} is not a Tidemark repository: it is a file, not a directory.`);
  if (!info && !options.create) {
    throw new RepositoryError(`${repo} is not a Tidemark repository: the directory does not exist. Pass --repo (default: $TIDEMARK_REPO, else ./tidemark-repo).`);
  }
  const storage = new FileSystemStorage(repo);
  await openRepository(storage, { create: options.create });
  const credentials = new InProcessCredentials();
  return {
    storage,
    // The local catalog lives beside the data; it is an index, rebuildable from the repository.
    catalog: new FileCatalog(join(repo, 'catalog')),
    databases: new PostgresConnector(credentials),
    credentials,
    progress: options.progress ?? (() => {}),
  };
}
