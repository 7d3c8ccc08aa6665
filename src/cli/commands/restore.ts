// `tidemark restore`: runs state-machines/restore.asl.json locally.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { UsageError } from '#core/errors.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import { createProgress } from '../progress.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';

export interface RestoreOptions {
  catalog?: string;
  target?: string;
  repo?: string;
  json?: boolean;
  workers: number;
}

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
    output = await runStateMachine('restore', { backup, target: { credentials: 'target' }, options: { workers: options.workers } }, ctx);
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  if (options.json) {
    printJson({ ok: true, ...output, seconds: Number(seconds.toFixed(3)) });
    return;
  }
  say(
    `Restore ${output.restoreId} of backup ${output.backupId} into ${output.target} done and verified: ` +
      `${formatCount(output.tables)} tables, ${formatCount(output.rows)} rows, ${formatBytes(output.bytes)} in ${seconds.toFixed(1)} s.`,
  );
  for (const warning of output.warnings) say(`warning: ${warning}`);
}
