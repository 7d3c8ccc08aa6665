// Step "MarkBackupFailed" (the restore's is restore/fail.ts): the ASL Catch hands over
// `{Error, Cause}`; the catalog records the failure (credentials redacted) so nothing looks committed.
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

export interface FailBackupInput {
  /** Null when StartBackup itself failed (it records a run it had registered). */
  backupId: string | null;
  /** `$$.Execution.Id` and `$$.Execution.Input` (unchecked), for the event. */
  executionArn?: string;
  input?: unknown;
  failure?: StepFailure;
}

/** The BackupFailed event's detail. */
export interface BackupFailure {
  backupId: string | null;
  collection: string | null;
  /** `host:port/database` once resolved, else the credentials' name (a secret ARN): never a password. */
  source: string | null;
  executionArn: string | null;
  errorType: string;
  error: string;
}

export async function failBackup(input: FailBackupInput, ctx: TaskContext): Promise<BackupFailure> {
  const error = describeFailure(input.failure);
  const { backupId } = input;
  const run = (input.input ?? {}) as { collection?: unknown; source?: { credentials?: unknown; database?: unknown } };
  const credentials = run.source?.credentials;
  let source =
    typeof credentials === 'string'
      ? ctx.databases.describe({
          credentials,
          ...(typeof run.source?.database === 'string' ? { database: run.source.database } : {}),
        })
      : null;
  if (backupId) {
    // Let the snapshot holder end if it is still waiting.
    if (!(await ctx.storage.head(layout.snapshotReleased(backupId)))) await releaseSnapshot({ backupId }, ctx);
    const record = await ctx.catalog.getBackup(backupId);
    if (record?.state === 'running') {
      await ctx.catalog.finishBackup(backupId, { state: 'failed', finishedAt: new Date().toISOString(), error });
    }
    source = record?.source ?? source;
  }
  return {
    backupId,
    collection: typeof run.collection === 'string' ? run.collection : null,
    source: source === null ? null : redactSecrets(source),
    executionArn: input.executionArn ?? null,
    errorType: input.failure?.Error ?? 'Error',
    error,
  };
}

/** Raises a Step Functions failure again with its original error name and message. */
export function reraise(failure: StepFailure): never {
  const error = new Error(describeFailure(failure).replace(/^[^:]*: /, ''));
  error.name = failure.Error ?? 'Error';
  throw error;
}
