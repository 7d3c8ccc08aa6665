// What each task function is given: memory, timeout, and exactly the access its task function
// in src/core uses (read the core function before widening any of this).
//
// Sizing. Lambda CPU is proportional to memory: 1769 MB is one full vCPU, 3008 MB about 1.7.
//  - Export batches read COPY output, cut, compress and SHA-256 it (CPU-bound, zlib runs on
//    the libuv pool, so the second vCPU helps): 3008 MB. Memory itself stays small (chunk size
//    × a few buffers, DESIGN.md invariant 6).
//  - Load and verify batches are bound by the target's COPY FROM / COPY TO speed; one vCPU
//    decompresses or hashes faster than PostgreSQL ingests: 1769 MB.
//  - All three take 15 min, Lambda's maximum: a batch is ≤ 64 MiB of table data, which takes
//    seconds to a few minutes; the rest is headroom for slow targets.
//  - The snapshot holder idles on one session and polls S3: 256 MB, but 15 min, because it must
//    outlive `snapshotHoldSeconds` (840 s) — that is the export window.
//  - Plan (schema capture, table sizes) and Commit (reads every batch result, writes a
//    manifest of tens of thousands of chunk refs): 1024 MB, 5 min.
//  - Prepare (pre-data DDL) and Finish (post-data DDL: index builds, waited on by this
//    function) are DB-bound; Finish gets 15 min because index builds on big tables are long,
//    Prepare 5 min. Resolve and Complete take 2 min.
//  - All four read the whole manifest, ~120 bytes per chunk: 1024 MB (see below).
//  - Catalog-only steps (fail, await/release snapshot): 256 MB, 1 min; start waits for gc: 5 min.
import { Duration } from 'aws-cdk-lib';

/**
 * Top-level areas of the repository (src/core/repository/layout.ts). No task opens the
 * repository marker (tidemark.json): functions/runtime/aws-context.ts does not call
 * openRepository, so no role may read or write it.
 */
export type RepositoryArea = 'runs' | 'chunks' | 'backups' | 'collections';
/** Catalog operations, by the DynamoDB action behind each port method. */
export type CatalogAction = 'GetItem' | 'Query' | 'Scan' | 'PutItem' | 'UpdateItem' | 'DeleteItem';

export interface TaskAccess {
  /** Connects to the configured sources (backup) or to restore targets (restore). */
  readonly databases?: 'sources' | 'restoreTargets';
  /** Gets and heads objects under these areas (and lists the bucket, so a miss is a 404). */
  readonly read?: readonly RepositoryArea[];
  /** Only heads objects under these areas (whether they exist): no decryption. */
  readonly check?: readonly RepositoryArea[];
  /**
   * Puts objects under these areas (S3Storage.putIfAbsent: HeadObject, then PutObject or a
   * multipart upload). Nothing may delete: only garbage collection will.
   */
  readonly write?: readonly RepositoryArea[];
  readonly catalog?: readonly CatalogAction[];
  /** Deletes objects under these areas: garbage collection only. */
  readonly delete?: readonly RepositoryArea[];
}

export interface TaskProfile {
  readonly memoryMb: number;
  readonly timeout: Duration;
  readonly access: TaskAccess;
}

const small = { memoryMb: 256, timeout: Duration.minutes(1) };
const batch = (memoryMb: number) => ({ memoryMb, timeout: Duration.minutes(15) });

export const TASK_PROFILES: Record<string, TaskProfile> = {
  // backup/start.ts: getBackup, getCollection (creating the scheduled collection on its first
  // run: collections/<name>.json, then PutItem), connects to the source (its secret) to fail fast, listBackups (the collection's latest: the byKind
  // index), createBackup, getLease (waits up to 4 min while gc holds the repository), and
  // finishBackup(failed) when it gives up. 5 min.
  BackupStart: { memoryMb: 256, timeout: Duration.minutes(5), access: { databases: 'sources', read: ['collections'], write: ['collections'], catalog: ['GetItem', 'Query', 'PutItem', 'UpdateItem'] } },
  // backup/hold-snapshot.ts holdSnapshot: writes runs/<id>/snapshot.json, polls snapshot-released.json.
  BackupHoldSnapshot: { memoryMb: 256, timeout: Duration.minutes(15), access: { databases: 'sources', check: ['runs'], write: ['runs'] } },
  // awaitSnapshot: reads runs/<id>/snapshot.json (a miss is SnapshotNotReadyError, retried).
  BackupAwaitSnapshot: { ...small, access: { read: ['runs'] } },
  // plan.ts: captures the schema inside the snapshot, getBackup (the parent), reads the parent's
  // manifest and heads its chunks (an incremental backup refuses a parent it cannot fully read),
  // writes the plan header and task batches.
  BackupPlan: { memoryMb: 1024, timeout: Duration.minutes(5), access: { databases: 'sources', read: ['runs', 'backups', 'chunks'], write: ['runs'], catalog: ['GetItem'] } },
  // export.ts: reads a plan batch (and, for incremental tasks, the parent's manifest and key
  // index chunks), writes chunks and the batch result (head first: idempotent).
  BackupExportBatch: { ...batch(3008), access: { databases: 'sources', read: ['runs', 'chunks', 'backups'], write: ['runs', 'chunks'] } },
  // releaseSnapshot: writes runs/<id>/snapshot-released.json.
  BackupReleaseSnapshot: { ...small, access: { write: ['runs'] } },
  // commit.ts: reads the plan and batch results, writes the manifest, finishBackup.
  BackupCommit: { memoryMb: 1024, timeout: Duration.minutes(5), access: { read: ['runs', 'backups'], write: ['backups'], catalog: ['GetItem', 'UpdateItem'] } },
  // failure.ts failBackup: releases the snapshot if needed, finishBackup(failed); builds the
  // BackupFailed detail (collection, source, execution, error) from the execution input.
  BackupFail: { ...small, access: { read: ['runs'], write: ['runs'], catalog: ['GetItem', 'UpdateItem'] } },
  // The restore tasks that read a whole manifest get 1024 MB: opening one of a million chunks
  // (~4 TB at the default 4 MiB chunks; 117 MiB of JSON) takes 1.3–2.0 s and ~500 MB of RSS,
  // one of 250,000 chunks 0.3–0.44 s and ~220 MB (bench/manifest-scale.ts; README, "Limits").
  // resolve.ts: listBackups (the byKind index) / getBackup, reads the manifest, createRestore.
  RestoreResolve: { memoryMb: 1024, timeout: Duration.minutes(2), access: { read: ['backups'], catalog: ['GetItem', 'Query', 'PutItem'] } },
  // prepare.ts: reads the manifest, creates the target database, applies pre-data DDL.
  RestorePrepare: { memoryMb: 1024, timeout: Duration.minutes(5), access: { databases: 'restoreTargets', read: ['backups'] } },
  // load.ts: reads the manifest and chunks, COPY FROM into the target.
  RestoreLoadBatch: { ...batch(1769), access: { databases: 'restoreTargets', read: ['backups', 'chunks'] } },
  // finish.ts: incremental layers (reads their chunks), post-data DDL, sequences.
  RestoreFinish: { memoryMb: 1024, timeout: Duration.minutes(15), access: { databases: 'restoreTargets', read: ['backups', 'chunks'] } },
  // verify.ts: COPY TO from the target, checksums against the manifest.
  RestoreVerifyBatch: { ...batch(1769), access: { databases: 'restoreTargets', read: ['backups'] } },
  // complete.ts: drops progress tables, getRestore + finishRestore(committed).
  RestoreComplete: { memoryMb: 1024, timeout: Duration.minutes(2), access: { databases: 'restoreTargets', read: ['backups'], catalog: ['GetItem', 'UpdateItem'] } },
  // restore/fail.ts failRestore: getRestore (+ createRestore when Resolve never did) +
  // finishRestore(failed), then connects to the target to say what it holds (resume or drop).
  RestoreFail: { ...small, access: { databases: 'restoreTargets', catalog: ['GetItem', 'PutItem', 'UpdateItem'] } },
  // The maintenance machine. Both hold the repository's maintenance lease (PutItem, DeleteItem)
  // and wait up to 4 min for another holder: 15 min.
  // maintenance/expire-step.ts: the collection (catalog, collections/<name>.json), its backups,
  // their tombstones (head, then put backups/<id>/expired.json), expireBackup.
  MaintenanceExpire: { memoryMb: 256, timeout: Duration.minutes(15), access: { read: ['collections', 'backups'], write: ['backups'], catalog: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'] } },
  // maintenance/gc-step.ts: lists and reads every manifest and tombstone, lists the chunks,
  // deletes what no restore point needs (chunks, expired manifests, orphans, runs/ scratch),
  // marks dead runs failed. Holds every manifest's chunk ids in memory (~70 bytes each): 1024 MB.
  MaintenanceGc: { memoryMb: 1024, timeout: Duration.minutes(15), access: { read: ['backups', 'chunks', 'runs', 'collections'], delete: ['backups', 'chunks', 'runs'], catalog: ['GetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem'] } },
};

/** Fails synth when functions/index.ts and this table disagree. */
export function profileOf(name: string, profiles: Readonly<Record<string, TaskProfile>> = TASK_PROFILES): TaskProfile {
  const profile = profiles[name];
  if (!profile) throw new Error(`functions/index.ts defines ${name}, which infra/task-profiles.ts has no profile for: add its memory, timeout and access.`);
  return profile;
}
