// `tidemark restore`: runs state-machines/restore.asl.json locally.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { UsageError } from '#core/errors.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import { createProgress } from '../progress.ts';
import { reportRestore } from '../report.ts';

export interface RestoreOptions {
  catalog?: string;
  target?: string;
  repo?: string;
  json?: boolean;
  workers: number;
  /** false with --no-verify: skip reading the restored tables back. */
  verify: boolean;
}

/** The state machine's input options; `verify` is sent only when false, so the default needs no field. */
export const restoreRunOptions = (options: RestoreOptions) => ({ workers: options.workers, ...(options.verify === false ? { verify: false } : {}) });

export async function restoreCommand(backup: string, options: RestoreOptions): Promise<void> {
  const target = options.target ?? process.env.TIDEMARK_TARGET;
  if (!target) throw new UsageError('Missing --target <postgres-url> (or $TIDEMARK_TARGET): the database to restore into (created when missing; must be empty).');
  const repo = repositoryPath(options.repo);
  const progress = createProgress('restore', !options.json);
  const ctx = await openLocalContext(repo, { create: false, catalog: options.catalog, progress: (e) => progress.onEvent(e) });
  ctx.credentials.register('target', target);
  const started = performance.now();
  let output: CompleteOutput;
  try {
    output = await runStateMachine('restore', { backup, target: { credentials: 'target' }, options: restoreRunOptions(options) }, ctx);
  } finally {
    progress.stop();
  }
  reportRestore(output, (performance.now() - started) / 1000, { json: options.json });
}
