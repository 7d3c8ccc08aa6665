// Step "StartBackup": record the run in the catalog as `running`. Nothing about it looks
// committed until "Commit" succeeds.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { newRunId } from '../ids.ts';

export interface StartBackupInput {
  source: DatabaseRef;
  /** Supplied by the caller for idempotent retries; generated otherwise. */
  backupId?: string;
}

export async function startBackup(input: StartBackupInput, ctx: TaskContext): Promise<{ backupId: string; startedAt: string }> {
  const backupId = input.backupId ?? newRunId();
  const existing = await ctx.catalog.getBackup(backupId);
  if (existing) return { backupId, startedAt: existing.startedAt };
  const startedAt = new Date().toISOString();
  await ctx.catalog.createBackup({ backupId, state: 'running', startedAt, source: ctx.databases.describe(input.source) });
  return { backupId, startedAt };
}
