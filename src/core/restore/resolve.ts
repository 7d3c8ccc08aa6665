// Step "Resolve": turn `latest` or a backup id into a committed backup, verify its manifest,
// and record the restore as running.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { BackupCatalog, BackupRecord } from '../ports/catalog.ts';
import { BackupNotFoundError } from '../errors.ts';
import { newRunId } from '../ids.ts';
import { readManifest } from '../repository/manifest.ts';
import { loadBatches, verifyBatches } from './load-plan.ts';

export interface ResolveInput {
  /** A backup id or `latest`. */
  backup: string;
  target: DatabaseRef;
  restoreId?: string;
}

export interface ResolveOutput {
  restoreId: string;
  backupId: string;
  loadBatches: number[];
  verifyBatches: number[];
}

export async function findCommittedBackup(catalog: BackupCatalog, backup: string, where: string): Promise<BackupRecord> {
  if (backup === 'latest') {
    const committed = (await catalog.listBackups()).filter((b) => b.state === 'committed');
    const latest = committed[committed.length - 1];
    if (!latest) throw new BackupNotFoundError(`There is no committed backup in ${where} yet, so "latest" names nothing. Run \`tidemark backup\` first.`);
    return latest;
  }
  const record = await catalog.getBackup(backup);
  if (!record) throw new BackupNotFoundError(`Backup ${backup} is not in the catalog of ${where}. Run \`tidemark list\` to see the backups.`);
  if (record.state !== 'committed') {
    throw new BackupNotFoundError(`Backup ${backup} is ${record.state}, not committed, so it cannot be restored${record.error ? ` (it failed: ${record.error})` : ''}. Pick a committed backup from \`tidemark list\`.`);
  }
  return record;
}

export async function resolveRestore(input: ResolveInput, ctx: TaskContext): Promise<ResolveOutput> {
  const record = await findCommittedBackup(ctx.catalog, input.backup, ctx.storage.location);
  const manifest = await readManifest(ctx.storage, record.backupId);
  const restoreId = input.restoreId ?? newRunId();
  if (!(await ctx.catalog.getRestore(restoreId))) {
    await ctx.catalog.createRestore({
      restoreId,
      backupId: record.backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      target: ctx.databases.describe(input.target),
    });
  }
  const indices = (n: number) => Array.from({ length: n }, (_, i) => i);
  return {
    restoreId,
    backupId: record.backupId,
    loadBatches: indices(loadBatches(manifest).length),
    verifyBatches: indices(verifyBatches(manifest).length),
  };
}
