// `tidemark restore`: runs state-machines/restore.asl.json locally (restore-run.ts).
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { UsageError } from '#core/errors.ts';
import { restoreRunInput, tablespaceMapFrom } from '#core/restore/run-input.ts';
import { createProgress } from '../progress.ts';
import { reportRestore } from '../report.ts';
import { failIfInterrupted, reportPointRestore, runRestoreMachine, type RestoreRun } from './restore-run.ts';

export interface RestoreOptions {
  catalog?: string;
  target?: string;
  repo?: string;
  json?: boolean;
  workers: number;
  /** false with --no-verify: skip reading the restored tables back. */
  verify: boolean;
  /** A failed restore's id: carry on with it in the same target database. */
  resume?: string;
  /** `--tablespace-map <old>=<new>` entries, as given. */
  tablespaceMap?: string[];
}

export async function restoreCommand(backup: string | undefined, options: RestoreOptions): Promise<void> {
  if (!backup && !options.resume)
    throw new UsageError(
      'Name the backup to restore (an id, or "latest"), or --resume <restore-id> to carry on with a failed restore.',
    );
  const tablespaceMap = tablespaceMapFrom(options.tablespaceMap);
  const target = options.target ?? process.env.TIDEMARK_TARGET;
  if (!target)
    throw new UsageError(
      'Missing --target <postgres-url> (or $TIDEMARK_TARGET): the database to restore into (created when missing; must be empty).',
    );
  const repo = repositoryPath(options.repo);
  const progress = createProgress('restore', !options.json);
  const ctx = await openLocalContext(repo, {
    create: false,
    catalog: options.catalog,
    progress: (e) => progress.onEvent(e),
  });
  ctx.credentials.register('target', target);
  if (options.resume) await failIfInterrupted(ctx.catalog, options.resume);
  const started = performance.now();
  let run: RestoreRun;
  try {
    const input = restoreRunInput({
      backup,
      target: { credentials: 'target' },
      workers: options.workers,
      verify: options.verify,
      resume: options.resume,
      tablespaceMap,
    });
    run = await runRestoreMachine(input, ctx);
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  // A resumed restore to a point reports as `restore --to` does: the point reached.
  if (run.replayed) reportPointRestore({ output: run.output, replayed: run.replayed }, seconds, options);
  else reportRestore(run.output, seconds, { json: options.json });
}
