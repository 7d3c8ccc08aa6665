// Step "StartBackup": record the run in the catalog as `running`. Nothing about it looks
// committed until "Commit" succeeds.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { newRunId } from '../ids.ts';
import { redactSecrets } from '../errors.ts';

export interface StartBackupInput {
  source: DatabaseRef;
  /** Supplied by the caller for idempotent retries; generated otherwise. */
  backupId?: string;
}

export async function startBackup(input: StartBackupInput, ctx: TaskContext): Promise<{ backupId: string; startedAt: string }> {
  const backupId = input.backupId ?? newRunId();
  const existing = await ctx.catalog.getBackup(backupId);
  if (existing) return { backupId, startedAt: existing.startedAt };
  // Connecting first fails fast on a wrong URL or password, and resolves the credentials, so
  // the catalog describes the source as host:port/database (not a secret's name).
  let unreachable: unknown;
  try {
    await (await ctx.databases.connect(input.source, { applicationName: 'tidemark start' })).close();
  } catch (err) {
    unreachable = err;
  }
  const startedAt = new Date().toISOString();
  await ctx.catalog.createBackup({ backupId, state: 'running', startedAt, source: ctx.databases.describe(input.source) });
  if (unreachable) {
    // This step has no failure handler of its own in the ASL (no run id exists before it), so it
    // records the failure itself: `list` shows it, and nothing looks committed.
    await ctx.catalog.finishBackup(backupId, { state: 'failed', finishedAt: new Date().toISOString(), error: redactSecrets((unreachable as Error).message) });
    throw unreachable;
  }
  return { backupId, startedAt };
}
