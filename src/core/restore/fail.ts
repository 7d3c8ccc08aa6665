// Step "MarkRestoreFailed": any failure of the restore machine ends here, Resolve's too (its
// input may be malformed, so this step reads only the execution's name and raw input). It
// records the restore `failed` — creating the record when Resolve never did — and says what
// the target database now holds, so the operator knows whether to resume or drop it.
import type { TaskContext } from '../task-context.ts';
import type { DatabaseRef } from '../ports/database.ts';
import { DatabaseMissingError } from '../errors.ts';
import { describeFailure, type StepFailure } from '../failure.ts';
import { progressOwner } from './progress-table.ts';

export interface FailRestoreInput {
  /** `$$.Execution.Name`: the restore id of this attempt. */
  executionName: string;
  /** `$$.Execution.Id`, for the event. */
  executionArn?: string;
  /** `$$.Execution.Input`, unchecked. */
  input?: unknown;
  failure?: StepFailure;
}

/** What the target database holds after the failure. */
export type TargetState = 'absent' | 'partial' | 'other' | 'unknown';

export interface FailRestoreOutput {
  restoreId: string;
  backupId: string | null;
  target: string | null;
  executionArn: string | null;
  errorType: string;
  error: string;
  /** Whether the failure is recorded in the catalog. */
  recorded: boolean;
  targetDatabase: TargetState;
  /** What to do next, in one sentence. */
  next: string;
}

export async function failRestore(input: FailRestoreInput, ctx: TaskContext): Promise<FailRestoreOutput> {
  const restoreId = input.executionName;
  const error = describeFailure(input.failure);
  const target = targetOf(input.input);
  const where = target ? ctx.databases.describe(target) : null;
  let record = await ctx.catalog.getRestore(restoreId);
  let recorded = false;
  try {
    if (!record) {
      const backup = (input.input as { backup?: unknown } | undefined)?.backup;
      record = {
        restoreId,
        backupId: typeof backup === 'string' ? backup : 'unknown',
        state: 'running',
        startedAt: new Date().toISOString(),
        target: where ?? 'unknown',
      };
      await ctx.catalog.createRestore(record);
    }
    if (record.state === 'running')
      record = await ctx.catalog.finishRestore(restoreId, {
        state: 'failed',
        finishedAt: new Date().toISOString(),
        error,
      });
    recorded = record.state === 'failed';
  } catch {
    // The failure is still reported by the event and the execution; the catalog may be what failed.
  }
  const targetDatabase = target ? await inspectTarget(ctx, target, restoreId) : 'unknown';
  return {
    restoreId,
    backupId: record && record.backupId !== 'unknown' ? record.backupId : null,
    target: where,
    executionArn: input.executionArn ?? null,
    errorType: input.failure?.Error ?? 'Error',
    error,
    recorded,
    targetDatabase,
    next: nextStep(targetDatabase, restoreId, where),
  };
}

function targetOf(input: unknown): DatabaseRef | undefined {
  const t = (input as { target?: { credentials?: unknown; database?: unknown } } | undefined)?.target;
  if (!t || typeof t.credentials !== 'string' || t.credentials === '') return undefined;
  return {
    credentials: t.credentials,
    ...(typeof t.database === 'string' && t.database !== '' ? { database: t.database } : {}),
  };
}

async function inspectTarget(ctx: TaskContext, target: DatabaseRef, restoreId: string): Promise<TargetState> {
  try {
    const session = await ctx.databases.connect(target, { applicationName: 'tidemark restore' });
    try {
      return (await progressOwner(session)) === restoreId ? 'partial' : 'other';
    } finally {
      await session.close();
    }
  } catch (err) {
    return err instanceof DatabaseMissingError ? 'absent' : 'unknown';
  }
}

function nextStep(state: TargetState, restoreId: string, where: string | null): string {
  switch (state) {
    case 'partial':
      return `The target ${where} holds this restore's partial work: fix the cause, then resume it (tidemark restore --resume ${restoreId}, or "resume": "${restoreId}" in a new execution's input), or drop the database.`;
    case 'absent':
      return `The target database ${where} was not created: fix the cause and start the restore again.`;
    case 'other':
      return `The target ${where} exists but holds no part of this restore: nothing of it needs cleaning up.`;
    default:
      return `Could not check the target${where ? ` ${where}` : ''}: look at it before starting again.`;
  }
}
