// `gc` (FORMAT.md, "Garbage collection"): take the maintenance lease → make sure no backup is
// running → mark the chunks every restore point needs → sweep the rest, expired manifests and
// finished runs. Why "no backup running" is enough: a backup registers as running and THEN
// checks the lease (waiting while gc holds it); gc takes the lease and THEN looks for running
// backups. Whichever comes second sees the other, so gc never deletes a chunk that a backup
// found present and decided not to write again.
import type { BackupCatalog, BackupRecord } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { BackupsRunningError, CatalogConflictError, TidemarkError } from '../errors.ts';
import { acquireMaintenanceLease, sleep, type HeldLease } from './lease.ts';
import { markReferencedChunks } from './gc-mark.ts';
import { executeSweep, planSweep } from './gc-sweep.ts';
import { mayStillCommit } from './run-liveness.ts';
import { failDeadRestores } from './dead-restores.ts';
import { layout } from '../repository/layout.ts';

export interface GcOptions {
  /** Report what would be deleted; delete nothing. */
  dryRun?: boolean;
  /** How long to wait for the lease and for running backups to finish (default 0: refuse at once). */
  waitSeconds?: number;
  /** Poll interval while waiting (default 1 s). */
  pollMs?: number;
}

/** Test seams to force interleavings; not reachable from the command line. */
export interface GcHooks {
  afterLease?: () => Promise<void>;
  beforeSweep?: () => Promise<void>;
}

export interface GcReport {
  dryRun: boolean;
  /** Backups whose manifests were marked (restore points). */
  backupsKept: number;
  chunksScanned: number;
  chunksDeleted: number;
  bytesFreed: number;
  chunksKept: number;
  bytesKept: number;
  /** Chunks a kept manifest lists that are not in the repository (run `verify`). */
  chunksMissing: string[];
  /** Expired backups whose manifest (and tombstone) gc removed. */
  manifestsRemoved: string[];
  /**
   * Tombstoned backups the catalog still showed `committed` (an `expire` that died before its
   * catalog write), which gc moved to `expired` before removing them.
   */
  catalogExpired: string[];
  /**
   * Tombstoned backups the catalog holds as `running` or `failed`: repository and catalog
   * disagree, so gc kept their manifest and tombstone. Look at them (`tidemark show <id>`).
   */
  catalogConflicts: { backupId: string; state: string }[];
  /**
   * Backups the catalog says are expired whose manifest is in the repository without a tombstone
   * (a replayed manifest, or a lost tombstone): no restore point; gc kept them and their chunks.
   */
  expiredInCatalog: string[];
  /** Manifests of runs that never committed (the catalog says failed, no commit marker), removed. */
  orphanManifestsRemoved: string[];
  /** Files of writes that died (`chunks/<aa>/.tmp-*` …), older than any live writer, removed. */
  abandonedWritesRemoved: string[];
  /** Runs whose scratch files under `runs/<id>/` gc removed. */
  runsRemoved: string[];
  /** Backups left `running` by a run that can never commit, now marked `failed`. */
  runsMarkedFailed: string[];
  /** Local restores left `running` by a process that is gone, now marked `failed` (resumable). */
  restoresMarkedFailed: string[];
}

/** A temp file older than this has no live writer (FORMAT.md, "Garbage collection"). */
export const ABANDONED_WRITE_AGE_MS = 3600 * 1000;

export async function collectGarbage(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  options: GcOptions = {},
  hooks: GcHooks = {},
): Promise<GcReport> {
  const giveUpAt = Date.now() + (options.waitSeconds ?? 0) * 1000;
  const remaining = () => Math.max(0, (giveUpAt - Date.now()) / 1000);
  for (;;) {
    const lease = await acquireMaintenanceLease(ports.catalog, {
      purpose: 'gc',
      waitSeconds: remaining(),
      pollMs: options.pollMs,
    });
    try {
      await hooks.afterLease?.();
      // A strongly consistent read: a backup that registered before it must be seen. Those that
      // can never commit (run-liveness.ts) hold nothing back; gc marks them failed.
      const now = new Date();
      const registered = await ports.catalog.listRunningBackups();
      const running = registered.filter((b) => mayStillCommit(b, now));
      if (running.length === 0) return await markAndSweep(ports, lease, options, hooks, registered);
      if (remaining() <= 0) throw runningError(running);
    } finally {
      await lease.release();
    }
    // Wait without the lease: a backup that registered after us is waiting for it to go.
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(remaining() * 1000, 1)));
  }
}

async function markAndSweep(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  lease: HeldLease,
  options: GcOptions,
  hooks: GcHooks,
  dead: BackupRecord[],
): Promise<GcReport> {
  const deadRuns = options.dryRun ? [] : await failDeadRuns(ports.catalog, dead, new Date());
  const deadRestores = options.dryRun ? [] : await failDeadRestores(ports.catalog, new Date());
  const mark = await markReferencedChunks(ports.storage, ports.catalog, { repair: !options.dryRun });
  await hooks.beforeSweep?.();
  const plan = await planSweep(ports.storage, ports.catalog, mark, new Date());
  if (!options.dryRun) await executeSweep(ports.storage, ports.catalog, plan, lease);
  const abandoned = options.dryRun ? [] : await removeAbandonedWrites(ports.storage);
  return {
    dryRun: Boolean(options.dryRun),
    backupsKept: mark.live.length,
    chunksScanned: plan.chunksScanned,
    chunksDeleted: plan.chunks.length,
    bytesFreed: plan.chunks.reduce((sum, c) => sum + c.size, 0),
    chunksKept: plan.chunksScanned - plan.chunks.length,
    bytesKept: plan.bytesKept,
    chunksMissing: plan.missingChunks,
    manifestsRemoved: plan.expiredBackups.filter((b) => b.hasManifest).map((b) => b.backupId),
    catalogExpired: plan.catalogToExpire.map((b) => b.backupId),
    catalogConflicts: plan.catalogConflicts,
    expiredInCatalog: mark.expiredInCatalog,
    orphanManifestsRemoved: mark.orphans,
    abandonedWritesRemoved: abandoned,
    runsRemoved: plan.runs.map((r) => r.runId),
    runsMarkedFailed: deadRuns,
    restoresMarkedFailed: deadRestores,
  };
}

/**
 * Temp files of writes that died. Under chunks/, runs/ and backups/ only backups write (and gc
 * itself), and none may still commit now (checked under the lease): anything there older than a
 * minute (mtime granularity, clocks) is dead. Elsewhere (collections, the local catalog's
 * restores) writers run beside gc, and finish a write in far less than an hour.
 */
async function removeAbandonedWrites(storage: RepositoryStorage): Promise<string[]> {
  const now = Date.now();
  const removed: string[] = [];
  for (const prefix of [layout.chunksPrefix(), 'runs/', layout.backupsPrefix()]) {
    removed.push(...(await storage.removeAbandonedWrites(new Date(now - 60_000), prefix)).removed);
  }
  removed.push(...(await storage.removeAbandonedWrites(new Date(now - ABANDONED_WRITE_AGE_MS))).removed);
  return removed.sort();
}

/**
 * `running` records that can never commit (past their deadline, or their local process gone)
 * become `failed`, so `list` stops showing them as running. Conditional on `running`: a run
 * that commits meanwhile keeps its state (and it cannot, being dead).
 */
async function failDeadRuns(catalog: BackupCatalog, dead: BackupRecord[], now: Date): Promise<string[]> {
  const marked: string[] = [];
  for (const b of dead) {
    const why =
      b.deadline && Date.parse(b.deadline) < now.getTime()
        ? `it ran past its deadline (${b.deadline})`
        : `its process (pid ${b.runner?.pid} on ${b.runner?.host}) is gone`;
    try {
      await catalog.finishBackup(b.backupId, {
        state: 'failed',
        finishedAt: now.toISOString(),
        error: `Abandoned: ${why}; marked failed by gc.`,
      });
      marked.push(b.backupId);
    } catch (err) {
      if (err instanceof CatalogConflictError) continue;
      // Best effort (e.g. a full disk): the run is dead either way, and gc must go on to free space.
      if (!(err instanceof TidemarkError)) throw err;
    }
  }
  return marked;
}

function runningError(running: BackupRecord[]): BackupsRunningError {
  const list = running
    .map((b) => `${b.backupId} (${b.source}, ${b.deadline ? `may commit until ${b.deadline}` : 'no deadline'})`)
    .join(', ');
  return new BackupsRunningError(
    `gc deleted nothing: ${running.length} backup(s) are running and may reuse chunks gc would delete: ${list}. ` +
      'Run gc when they have finished, or pass --wait <seconds> to wait for them.',
  );
}
