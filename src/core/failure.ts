// Steps "MarkBackupFailed" / "MarkRestoreFailed": the ASL Catch hands over `{Error, Cause}`;
// the catalog records the failure (credentials redacted) so nothing looks committed.
import type { TaskContext } from './task-context.ts';
import { redactSecrets } from './errors.ts';
import { layout } from './repository/layout.ts';
import { releaseSnapshot } from './backup/hold-snapshot.ts';

export interface StepFailure {
  Error?: string;
  Cause?: string;
}

/** The message of a Step Functions error: Cause is the Lambda error JSON or plain text. */
export function describeFailure(failure: StepFailure | undefined): string {
  if (!failure) return 'unknown error';
  let message = failure.Cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: string; errorType?: string };
    if (parsed.errorMessage) message = parsed.errorMessage;
  } catch {
    // Cause was plain text.
  }
  return redactSecrets(`${failure.Error ?? 'Error'}: ${message}`.trim());
}

export async function failBackup(input: { backupId: string; failure?: StepFailure }, ctx: TaskContext): Promise<{ backupId: string; error: string }> {
  const error = describeFailure(input.failure);
  // Let the snapshot holder end if it is still waiting.
  if (!(await ctx.storage.head(layout.snapshotReleased(input.backupId)))) await releaseSnapshot({ backupId: input.backupId }, ctx);
  const record = await ctx.catalog.getBackup(input.backupId);
  if (record?.state === 'running') {
    await ctx.catalog.finishBackup(input.backupId, { state: 'failed', finishedAt: new Date().toISOString(), error });
  }
  return { backupId: input.backupId, error };
}

export async function failRestore(input: { restoreId: string; failure?: StepFailure }, ctx: TaskContext): Promise<{ restoreId: string; error: string }> {
  const error = describeFailure(input.failure);
  const record = await ctx.catalog.getRestore(input.restoreId);
  if (record?.state === 'running') {
    await ctx.catalog.finishRestore(input.restoreId, { state: 'failed', finishedAt: new Date().toISOString(), error });
  }
  return { restoreId: input.restoreId, error };
}

/** Raises a Step Functions failure again with its original error name and message. */
export function reraise(failure: StepFailure): never {
  const error = new Error(describeFailure(failure).replace(/^[^:]*: /, ''));
  error.name = failure.Error ?? 'Error';
  throw error;
}
