// Step "Resolve": check the execution input, turn `latest` or a backup id (or the restore to
// resume, or a point in time) into a committed backup, verify its manifest, and record the
// restore as running. Its output is everything the later states read (DESIGN.md invariant 4:
// ids and indices only).
import type { DatabaseRef } from '../ports/database.ts';
import type { DdlStatement } from '../schema/model.ts';
import type { TaskContext } from '../task-context.ts';
import type { BackupCatalog, BackupRecord } from '../ports/catalog.ts';
import { BackupNotFoundError, UsageError } from '../errors.ts';
import { readManifest } from '../repository/manifest.ts';
import { loadBatches, verifyBatches } from './load-plan.ts';
import { parseRestoreRunInput } from './run-input.ts';
import { replayOf, type ReplayPlan } from './replay-plan.ts';
import { tablespacesUsed } from '../schema/tablespaces.ts';

export interface ResolveInput {
  /** The execution input, unchecked (the console passes whatever was pasted). */
  input: unknown;
  /** `$$.Execution.Name`: the restore id of this attempt. */
  executionName: string;
}

export interface RestoreRunState {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  options: { workers: number; verify: boolean; tablespaceMap: Record<string, string> };
  /** The failed restore this one carries on with, in the same database; null for a new one. */
  resumes: string | null;
  loadBatches: number[];
  verifyBatches: number[];
  /** A point-in-time restore's replay (ReplayChanges); null for a restore to a backup. */
  replay: ReplayPlan | null;
}

export async function findCommittedBackup(
  catalog: BackupCatalog,
  backup: string,
  where: string,
): Promise<BackupRecord> {
  if (backup === 'latest') {
    const committed = (await catalog.listBackups()).filter((b) => b.state === 'committed');
    const latest = committed[committed.length - 1];
    if (!latest)
      throw new BackupNotFoundError(
        `There is no committed backup in ${where} yet, so "latest" names nothing. Run \`tidemark backup\` first.`,
      );
    return latest;
  }
  const record = await catalog.getBackup(backup);
  if (!record)
    throw new BackupNotFoundError(
      `Backup ${backup} is not in the catalog of ${where}. Run \`tidemark list\` to see the backups.`,
    );
  if (record.state !== 'committed') {
    throw new BackupNotFoundError(
      `Backup ${backup} is ${record.state}, not committed, so it cannot be restored${record.error ? ` (it failed: ${record.error})` : ''}. Pick a committed backup from \`tidemark list\`.`,
    );
  }
  return record;
}

export async function resolveRestore(input: ResolveInput, ctx: TaskContext): Promise<RestoreRunState> {
  const run = parseRestoreRunInput(input.input);
  const restoreId = input.executionName;
  // A point in time picks its backup as `tidemark restore --to` does (the pitr resolve code).
  // Or, resuming one, its recorded plan.
  const replay = await replayOf(ctx, run);
  const backup = replay ? replay.backupId : run.resume ? await resumedBackup(ctx, run.resume, run.backup) : run.backup!;
  const record = await findCommittedBackup(ctx.catalog, backup, ctx.storage.location);
  const manifest = await readManifest(ctx.storage, record.backupId);
  const tablespaceMap = run.resume
    ? await resumedTablespaceMap(ctx, run.resume, run.options.tablespaceMap)
    : run.options.tablespaceMap;
  refuseUnusedTablespaces(tablespaceMap, manifest.schema, record.backupId);
  if (!(await ctx.catalog.getRestore(restoreId))) {
    await ctx.catalog.createRestore({
      restoreId,
      backupId: record.backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      target: ctx.databases.describe(run.target),
      // Locally, so that gc can tell a restore whose process died (maintenance/dead-restores.ts).
      ...(ctx.runner ? { runner: ctx.runner } : {}),
      ...(Object.keys(tablespaceMap).length > 0 ? { tablespaceMap } : {}),
      ...(replay ? { replay: replay.record } : {}),
    });
  }
  const indices = (n: number) => Array.from({ length: n }, (_, i) => i);
  return {
    restoreId,
    backupId: record.backupId,
    target: run.target,
    options: { ...run.options, tablespaceMap },
    resumes: run.resume ?? null,
    loadBatches: indices(loadBatches(manifest).length),
    verifyBatches: indices(verifyBatches(manifest).length),
    replay: replay?.plan ?? null,
  };
}

/** A map entry for a tablespace no object of the backup is in is a mistake: said before anything is created. */
function refuseUnusedTablespaces(
  map: Record<string, string>,
  schema: { preData: DdlStatement[]; postData: DdlStatement[][] },
  backupId: string,
): void {
  const used = tablespacesUsed([...schema.preData, ...schema.postData.flat()]);
  const unused = Object.keys(map).filter((space) => !used.includes(space));
  if (unused.length === 0) return;
  const uses =
    used.length > 0
      ? `its objects are in ${used.map((s) => `"${s}"`).join(', ')}`
      : 'all its objects are in the default tablespace';
  throw new UsageError(
    `--tablespace-map names tablespace ${unused.map((s) => `"${s}"`).join(', ')}, which no object of backup ${backupId} is in (${uses}). Map only those, or leave the entry out.`,
  );
}

/** The backup of a failed restore: only a failed one may be resumed, and only with its own backup. */
async function resumedBackup(ctx: TaskContext, restoreId: string, backup: string | undefined): Promise<string> {
  const prior = await ctx.catalog.getRestore(restoreId);
  if (!prior)
    throw new UsageError(
      `Restore ${restoreId} is not in the catalog of ${ctx.storage.location}: there is nothing to resume. Check the id in the RestoreFailed event or \`tidemark show\`.`,
    );
  if (prior.state !== 'failed') {
    throw new UsageError(
      `Restore ${restoreId} is ${prior.state}; only a failed restore can be resumed.${prior.state === 'running' ? ' Wait for it to end (or stop its execution), then resume it.' : ''}`,
    );
  }
  if (backup !== undefined && backup !== 'latest' && backup !== prior.backupId) {
    throw new UsageError(
      `Restore ${restoreId} restored backup ${prior.backupId}, not ${backup}: a resumed restore carries on with the same backup. Leave "backup" out, or start a new restore.`,
    );
  }
  return prior.backupId;
}

/**
 * A resumed restore places objects as the failed run did: those it created are where its map put
 * them, and the indexes still to come follow the same map. No map given reuses the recorded one;
 * another map is refused, naming both.
 */
async function resumedTablespaceMap(
  ctx: TaskContext,
  restoreId: string,
  given: Record<string, string>,
): Promise<Record<string, string>> {
  const recorded = (await ctx.catalog.getRestore(restoreId))?.tablespaceMap ?? {};
  if (Object.keys(given).length === 0) return recorded;
  if (describeTablespaceMap(given) === describeTablespaceMap(recorded)) return given;
  const was = Object.keys(recorded).length > 0 ? `with ${describeTablespaceMap(recorded)}` : 'without --tablespace-map';
  throw new UsageError(
    `Restore ${restoreId} ran ${was}, and this resume gives ${describeTablespaceMap(given)}: a resumed restore carries on ` +
      'with the map of the restore it resumes, whose objects are already in place. Leave --tablespace-map out (the recorded map is used), ' +
      'or start a new restore into an empty database to use another map.',
  );
}

/** `--tablespace-map "old=new"` for each entry, sorted: the same for the same map. */
function describeTablespaceMap(map: Record<string, string>): string {
  return Object.entries(map)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([from, to]) => `--tablespace-map "${from}=${to}"`)
    .join(' ');
}
