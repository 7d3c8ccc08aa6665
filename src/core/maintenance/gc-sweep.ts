// gc, phase "sweep": what to delete, then deleting it in batches, each batch only while the
// maintenance lease is still safely ours. Every step is idempotent: a gc that stops halfway
// (crash, lost lease) leaves a repository the next gc finishes.
import type { BackupCatalog, BackupRecord, BackupState } from '../ports/catalog.ts';
import { mayStillCommit } from './run-liveness.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { isRunId } from '../ids.ts';
import { BackupNotFoundError } from '../errors.ts';
import type { MarkResult } from './gc-mark.ts';
import type { HeldLease } from './lease.ts';
import { forEachInParallel } from '../parallel.ts';

/** A run unknown to the catalog is left alone this long after it started (by its id). */
export const ORPHAN_RUN_AGE_MS = 24 * 3600 * 1000;
// layout.ts builds every run key but has no prefix for all runs yet; this is the same `runs/`.
const RUNS_PREFIX = 'runs/';
const BATCH = 500;
const LANES = 16;

export interface SweepPlan {
  chunksScanned: number;
  bytesKept: number;
  /** Unreferenced chunk objects: key and stored size. */
  chunks: { key: string; size: number }[];
  /** Referenced chunk keys with no object: damage for `verify` to name; gc reports it. */
  missingChunks: string[];
  /** Expired backups whose manifest and tombstone go. */
  expiredBackups: MarkResult['expired'];
  /**
   * Tombstoned backups the catalog still shows `committed`: an `expire` died between its
   * tombstone and its catalog write. gc completes the transition before deleting anything.
   */
  catalogToExpire: MarkResult['expired'];
  /**
   * Tombstoned backups the catalog holds in a state no expire leads to (`running`, `failed`):
   * the repository and the catalog disagree, so gc keeps their manifest and tombstone.
   */
  catalogConflicts: { backupId: string; state: BackupState }[];
  /** Manifest keys of runs that never committed. */
  orphanManifests: string[];
  /** Finished or abandoned runs, with every key under `runs/<id>/`. */
  runs: { runId: string; keys: string[] }[];
}

export async function planSweep(
  storage: RepositoryStorage,
  catalog: BackupCatalog,
  mark: MarkResult,
  now: Date,
): Promise<SweepPlan> {
  const plan: SweepPlan = {
    chunksScanned: 0,
    bytesKept: 0,
    chunks: [],
    missingChunks: [],
    expiredBackups: [],
    catalogToExpire: [],
    catalogConflicts: [],
    runs: [],
    orphanManifests: mark.orphans.map((id) => layout.manifest(id)),
  };
  const present = new Set<string>();
  for await (const object of storage.list(layout.chunksPrefix())) {
    plan.chunksScanned++;
    present.add(object.key);
    if (mark.referenced.has(object.key)) plan.bytesKept += object.size;
    else plan.chunks.push({ key: object.key, size: object.size });
  }
  plan.missingChunks = [...mark.referenced].filter((key) => !present.has(key)).sort();
  await planExpiredBackups(catalog, mark.expired, plan);
  // Read the catalog now, after marking: a run registered since is seen as running and kept.
  // Whether a run may still commit comes from the strongly consistent list of running backups;
  // listBackups (on DynamoDB an eventually consistent index) only adds runs that have finished.
  // States only move forward, so a stale entry there can make gc keep files, never delete them.
  const running = await catalog.listRunningBackups();
  const records = new Map([...(await catalog.listBackups()), ...running].map((b) => [b.backupId, b]));
  for (const [runId, keys] of await listRuns(storage)) {
    if (runIsOver(runId, records.get(runId), now)) plan.runs.push({ runId, keys });
  }
  return plan;
}

/** Sorts tombstoned backups by what the catalog (read strongly, item by item) says of them. */
async function planExpiredBackups(
  catalog: BackupCatalog,
  expired: MarkResult['expired'],
  plan: SweepPlan,
): Promise<void> {
  const states = new Map<string, BackupState | undefined>();
  await forEachInParallel(
    expired,
    LANES,
    async (b) => void states.set(b.backupId, (await catalog.getBackup(b.backupId))?.state),
  );
  for (const b of expired) {
    const state = states.get(b.backupId);
    if (state === 'running' || state === 'failed') {
      plan.catalogConflicts.push({ backupId: b.backupId, state });
      continue;
    }
    // `expired` is done; absent from the catalog is fine too (the repository is the truth).
    if (state === 'committed') plan.catalogToExpire.push(b);
    plan.expiredBackups.push(b);
  }
}

export async function executeSweep(
  storage: RepositoryStorage,
  catalog: BackupCatalog,
  plan: SweepPlan,
  lease: HeldLease,
): Promise<void> {
  const deleteAll = async (keys: string[], what: string) => {
    for (let i = 0; i < keys.length; i += BATCH) {
      await lease.assertHeld(`deleting ${what}`);
      await forEachInParallel(keys.slice(i, i + BATCH), LANES, (key) => storage.delete(key));
    }
  };
  // Finish interrupted expires first: once the manifest is gone, nothing would tell a catalog
  // that still says `committed` that the backup no longer exists. Idempotent, like the deletes;
  // a state other than committed/expired (CatalogConflictError) stops gc before it deletes.
  for (const b of plan.catalogToExpire) {
    await lease.assertHeld(`completing the expiry of backup ${b.backupId} in the catalog`);
    await catalog.expireBackup(b.backupId, b.expiredAt).catch((err: unknown) => {
      if (!(err instanceof BackupNotFoundError)) throw err;
    });
  }
  // Orphan manifests first: they are no restore point, and once gone nothing can take them for one.
  await deleteAll(plan.orphanManifests, 'manifests of runs that never committed');
  await deleteAll(
    plan.chunks.map((c) => c.key),
    'unreferenced chunks',
  );
  // Manifest, then commit marker, then tombstone: a crash in between leaves a tombstone alone
  // (harmless), never a manifest without its tombstone, which would come back as a restore point
  // whose chunks are gone.
  await deleteAll(
    plan.expiredBackups.filter((b) => b.hasManifest).map((b) => layout.manifest(b.backupId)),
    'manifests of expired backups',
  );
  await deleteAll(
    plan.expiredBackups.map((b) => layout.backupCommitted(b.backupId)),
    'commit markers of expired backups',
  );
  await deleteAll(
    plan.expiredBackups.map((b) => layout.backupExpired(b.backupId)),
    'tombstones of expired backups',
  );
  await deleteAll(
    plan.runs.flatMap((r) => r.keys),
    'run files of finished backups',
  );
}

/** A run's files are scratch (plan, results, snapshot hand-off) once it can no longer commit. */
function runIsOver(runId: string, record: BackupRecord | undefined, now: Date): boolean {
  if (record) return !mayStillCommit(record, now);
  // Unknown to the catalog: maybe a run that has not registered yet, maybe a lost catalog entry.
  // Only its age, from its id, tells it is long dead.
  if (!isRunId(runId)) return false;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(runId)!;
  const started = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return now.getTime() - started > ORPHAN_RUN_AGE_MS;
}

async function listRuns(storage: RepositoryStorage): Promise<Map<string, string[]>> {
  const runs = new Map<string, string[]>();
  for await (const { key } of storage.list(RUNS_PREFIX)) {
    const runId = key.slice(RUNS_PREFIX.length).split('/')[0]!;
    const keys = runs.get(runId) ?? [];
    keys.push(key);
    runs.set(runId, keys);
  }
  return runs;
}
