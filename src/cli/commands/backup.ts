// `tidemark backup`: runs state-machines/backup.asl.json locally and reports the committed backup.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { CollectionNotFoundError, UsageError } from '#core/errors.ts';
import type { BackupCatalog } from '#core/ports/catalog.ts';
import { describeUrl } from '#adapters/postgres/connector.ts';
import { backupRunInput } from '#core/backup/run-input.ts';
import { createProgress } from '../progress.ts';
import { reportCommittedBackup } from '../report.ts';

export interface BackupOptions {
  catalog?: string;
  source?: string;
  collection?: string;
  full?: boolean;
  repo?: string;
  json?: boolean;
  workers: number;
  snapshotHoldSeconds: number;
  chunkBytes?: number;
  rangeBytes?: number;
}

export async function backupCommand(options: BackupOptions): Promise<void> {
  if (options.full && !options.collection)
    throw new UsageError(
      '--full applies to a backup in a collection (--collection <name>); a backup outside a collection is always full.',
    );
  const repo = repositoryPath(options.repo);
  const progress = createProgress('backup', !options.json);
  const ctx = await openLocalContext(repo, {
    create: !options.collection,
    catalog: options.catalog,
    progress: (e) => progress.onEvent(e),
  });
  const source = await sourceOf(options, ctx.catalog, repo);
  ctx.credentials.register('source', source);
  const started = performance.now();
  const input = backupRunInput({
    source: { credentials: 'source' },
    collection: options.collection,
    full: options.full,
    workers: options.workers,
    snapshotHoldSeconds: options.snapshotHoldSeconds,
    plan: { chunkBytes: options.chunkBytes, rangeBytes: options.rangeBytes },
  });
  let output: { backupId: string };
  try {
    output = await runStateMachine('backup', input, ctx);
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const record = (await ctx.catalog.getBackup(output.backupId))!;
  reportCommittedBackup(record, seconds, { json: options.json, extra: { repository: repo } });
}

/**
 * The URL to read: --source, else the collection's (stored without its password: libpq's
 * PGPASSWORD or ~/.pgpass supplies it), else $TIDEMARK_SOURCE.
 */
async function sourceOf(options: BackupOptions, catalog: BackupCatalog, repo: string): Promise<string> {
  if (options.collection) {
    const collection = await catalog.getCollection(options.collection);
    if (!collection) {
      throw new CollectionNotFoundError(
        `Collection ${options.collection} does not exist in the repository at ${repo}. Create it with \`tidemark collection create ${options.collection} --source <postgres-url>\`.`,
      );
    }
    if (options.source && describeUrl(options.source) !== collection.sourceDescription) {
      throw new UsageError(
        `--source names ${describeUrl(options.source)}, but collection ${collection.name} backs up ${collection.sourceDescription}. Leave out --source, or use another collection.`,
      );
    }
    return options.source ?? collection.source;
  }
  const source = options.source ?? process.env.TIDEMARK_SOURCE;
  if (!source) throw new UsageError('Missing --source <postgres-url> (or $TIDEMARK_SOURCE): the database to back up.');
  return source;
}
