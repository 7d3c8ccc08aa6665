// `tidemark backup`: runs state-machines/backup.asl.json locally and reports the committed backup.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { UsageError } from '#core/errors.ts';
import { DEFAULT_PLAN_OPTIONS } from '#core/backup/plan.ts';
import { createProgress } from '../progress.ts';
import { reportCommittedBackup } from '../report.ts';

export interface BackupOptions {
  catalog?: string;
  source?: string;
  repo?: string;
  json?: boolean;
  workers: number;
  snapshotHoldSeconds: number;
  chunkBytes?: number;
  rangeBytes?: number;
}

export async function backupCommand(options: BackupOptions): Promise<void> {
  const source = options.source ?? process.env.TIDEMARK_SOURCE;
  if (!source) throw new UsageError('Missing --source <postgres-url> (or $TIDEMARK_SOURCE): the database to back up.');
  const repo = repositoryPath(options.repo);
  const progress = createProgress('backup', !options.json);
  const ctx = await openLocalContext(repo, { create: true, catalog: options.catalog, progress: (e) => progress.onEvent(e) });
  ctx.credentials.register('source', source);
  const started = performance.now();
  const input = {
    source: { credentials: 'source' },
    options: {
      workers: options.workers,
      snapshotHoldSeconds: options.snapshotHoldSeconds,
      plan: {
        chunkBytes: options.chunkBytes ?? DEFAULT_PLAN_OPTIONS.chunkBytes,
        rangeBytes: options.rangeBytes ?? DEFAULT_PLAN_OPTIONS.rangeBytes,
      },
    },
  };
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
