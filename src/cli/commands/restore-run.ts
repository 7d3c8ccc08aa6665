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
import { formatCount, printJson, say } from '../output.ts';

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

/** `restore --to` (and the resume of one): the backup restored and the exact point reached. */
export function reportPointRestore(run: Required<RestoreRun>, seconds: number, options: { json?: boolean }): void {
  const { output, replayed } = run;
  const result = { backupId: output.backupId, reached: replayed.reached!, replay: replayResult(replayed) };
  const rounded = Number(seconds.toFixed(3));
  if (options.json) return printJson({ ok: true, restoreId: output.restoreId, ...result, seconds: rounded });
  say(
    `Restored backup ${result.backupId} and replayed ${formatCount(result.replay.transactions)} transactions (${formatCount(result.replay.changes)} row changes) in ${rounded} s.`,
  );
  say(`Reached: the commit of xid ${result.reached.xid} at ${result.reached.time} (lsn:${result.reached.lsn}).`);
}
