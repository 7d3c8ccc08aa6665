// The local run of the restore state machine that `tidemark restore` (a backup, `--to` a point,
// or `--resume`) goes through, and the report of a restore to a point: the exact point reached
// and what the replay did, read from the last ReplayChanges of the run.
import type { LocalContext } from '#local/local-context.ts';
import { ExecutionFailedError, runStateMachine } from '#local/state-machine-runner.ts';
import type { RestoreRunInput } from '#core/restore/run-input.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import type { FailRestoreOutput } from '#core/restore/fail.ts';
import type { ReplayProgress } from '#core/restore/replay-step.ts';
import { replayResult } from '#core/pitr/restore-to-point.ts';
import type { BackupCatalog } from '#core/ports/catalog.ts';
import { CatalogConflictError } from '#core/errors.ts';
import { processGone } from '#core/maintenance/run-liveness.ts';
import { formatCount, say } from '../output.ts';
import { reportRestore } from '../report.ts';

export interface RestoreRun {
  output: CompleteOutput;
  /** A restore to a point: what its last ReplayChanges returned (the whole replay's, kept in the target). */
  replayed?: ReplayProgress;
}

export async function runRestoreMachine(input: RestoreRunInput, ctx: LocalContext): Promise<RestoreRun> {
  let replayed: ReplayProgress | undefined;
  let failed: Partial<FailRestoreOutput> | undefined;
  try {
    const output: CompleteOutput = await runStateMachine('restore', input, ctx, {
      aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
        const result = await run();
        if (fn === 'RestoreReplay') replayed = result as ReplayProgress;
        return result;
      },
      onEvent: (e) => {
        if (e.detailType === 'RestoreFailed') failed = e.detail as Partial<FailRestoreOutput>;
      },
    });
    return { output, ...(replayed ? { replayed } : {}) };
  } catch (err) {
    // What to do next (resume it, with its id) is in the RestoreFailed event, which locally no
    // one else receives.
    if (err instanceof ExecutionFailedError && failed?.targetDatabase === 'partial' && failed.next)
      throw new ExecutionFailedError(err.errorName, `${err.causeMessage} ${failed.next}`);
    throw err;
  }
}

/**
 * `restore --to` (and the resume of one): a restore's report (verified or not, its warnings: what
 * replay could not bring forward among them), with the exact point reached and what replay did.
 */
export function reportPointRestore(run: Required<RestoreRun>, seconds: number, options: { json?: boolean }): void {
  const { output, replayed } = run;
  const point = { reached: replayed.reached!, replay: replayResult(replayed) };
  if (options.json) return reportRestore(output, seconds, { json: true, extra: point });
  say(
    `Restored backup ${output.backupId} and replayed ${formatCount(point.replay.transactions)} transactions (${formatCount(point.replay.changes)} row changes).`,
  );
  say(`Reached: the commit of xid ${point.reached.xid} at ${point.reached.time} (lsn:${point.reached.lsn}).`);
  reportRestore(output, seconds, {});
}

/**
 * `--resume` of a local restore that was killed: its record is still `running`, which gc would
 * mark failed once it saw the process gone (maintenance/dead-restores.ts). The resume does the
 * same first, on the same conditions: the restore's process is gone from this host, and the
 * record is still `running` when it is written.
 */
export async function failIfInterrupted(catalog: BackupCatalog, restoreId: string): Promise<void> {
  const record = await catalog.getRestore(restoreId);
  if (record?.state !== 'running' || !record.runner || !processGone(record.runner)) return;
  try {
    await catalog.finishRestore(restoreId, {
      state: 'failed',
      finishedAt: new Date().toISOString(),
      error: `Interrupted: its process (pid ${record.runner.pid} on ${record.runner.host}) is gone; \`tidemark restore --resume ${restoreId}\` marked it failed and carried on with it.`,
    });
  } catch (err) {
    if (!(err instanceof CatalogConflictError)) throw err; // it finished meanwhile: Resolve says so
  }
}
