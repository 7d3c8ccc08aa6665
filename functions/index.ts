// The task registry: every Lambda task function once — its handler, the schema that handler
// parses its event with (`input`, from src/core/<pipeline>/task-inputs.ts), its source file (CDK
// bundles one function per entry; the local runner maps each ASL Task to the same handler, by
// the name its `${<Name>FunctionArn}` placeholder uses), and what it is given: memory, timeout
// and exactly the access its task function in src/core uses (infra/task-policy.ts turns the
// access into IAM statements; test/e2e/aws-grants.test.ts proves them sufficient and used). Read
// the core function before widening any of this.
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
import { handler as backupStart } from './backup-start.ts';
import { handler as backupHoldSnapshot } from './backup-hold-snapshot.ts';
import { handler as backupAwaitSnapshot } from './backup-await-snapshot.ts';
import { handler as backupPlan } from './backup-plan.ts';
import { handler as backupExportBatch } from './backup-export-batch.ts';
import { handler as backupReleaseSnapshot } from './backup-release-snapshot.ts';
import { handler as backupCommit } from './backup-commit.ts';
import { handler as backupFail } from './backup-fail.ts';
import { handler as restoreResolve } from './restore-resolve.ts';
import { handler as restorePrepare } from './restore-prepare.ts';
import { handler as restoreLoadBatch } from './restore-load-batch.ts';
import { handler as restoreFinish } from './restore-finish.ts';
import { handler as restoreVerifyBatch } from './restore-verify-batch.ts';
import { handler as restoreReplay } from './restore-replay.ts';
import { handler as restoreComplete } from './restore-complete.ts';
import { handler as restoreFail } from './restore-fail.ts';
import { handler as maintenanceExpire } from './maintenance-expire.ts';
import { handler as maintenanceGc } from './maintenance-gc.ts';
import { handler as pitrArchive } from './pitr-archive.ts';
import type { TaskDefinition } from './runtime/task-profile.ts';

const small = { memoryMb: 256, timeoutSeconds: 60 };
const batch = (memoryMb: number) => ({ memoryMb, timeoutSeconds: 900 });

export const TASKS = {
  // backup/start.ts: reads the repository marker, or puts it when the repository has none yet
  // (the first backup), getBackup, getCollection (creating the scheduled collection on its first
  // run: collections/<name>.json, then PutItem), connects to the source (its secret) to fail
  // fast, listBackups (the collection's latest: the byKind index), createBackup, getLease
  // (waits up to 4 min while gc holds the repository), and finishBackup(failed) when it gives
  // up. 5 min.
  BackupStart: {
    handler: backupStart,
    input: backupStart.input,
    file: 'backup-start.ts',
    memoryMb: 256,
    timeoutSeconds: 300,
    access: {
      databases: 'sources',
      read: ['collections'],
      write: ['collections'],
      marker: true,
      catalog: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
    },
  },
  // backup/hold-snapshot.ts holdSnapshot: writes runs/<id>/snapshot.json, polls snapshot-released.json.
  BackupHoldSnapshot: {
    handler: backupHoldSnapshot,
    input: backupHoldSnapshot.input,
    file: 'backup-hold-snapshot.ts',
    memoryMb: 256,
    timeoutSeconds: 900,
    access: { databases: 'sources', check: ['runs'], write: ['runs'] },
  },
  // awaitSnapshot: reads runs/<id>/snapshot.json (a miss is SnapshotNotReadyError, retried).
  BackupAwaitSnapshot: {
    handler: backupAwaitSnapshot,
    input: backupAwaitSnapshot.input,
    file: 'backup-await-snapshot.ts',
    ...small,
    access: { read: ['runs'] },
  },
  // plan.ts: captures the schema inside the snapshot, getBackup (the parent), reads the parent's
  // manifest and heads its chunks (an incremental backup refuses a parent it cannot fully read),
  // writes the plan header and task batches.
  BackupPlan: {
    handler: backupPlan,
    input: backupPlan.input,
    file: 'backup-plan.ts',
    memoryMb: 1024,
    timeoutSeconds: 300,
    access: { databases: 'sources', read: ['runs', 'backups', 'chunks'], write: ['runs'], catalog: ['GetItem'] },
  },
  // export.ts: reads a plan batch (and, for incremental tasks, the parent's manifest and key
  // index chunks), writes chunks and the batch result (head first: idempotent).
  BackupExportBatch: {
    handler: backupExportBatch,
    input: backupExportBatch.input,
    file: 'backup-export-batch.ts',
    ...batch(3008),
    access: { databases: 'sources', read: ['runs', 'chunks', 'backups'], write: ['runs', 'chunks'] },
  },
  // releaseSnapshot: writes runs/<id>/snapshot-released.json.
  BackupReleaseSnapshot: {
    handler: backupReleaseSnapshot,
    input: backupReleaseSnapshot.input,
    file: 'backup-release-snapshot.ts',
    ...small,
    access: { write: ['runs'] },
  },
  // commit.ts: reads the plan and batch results, writes the manifest, finishBackup.
  BackupCommit: {
    handler: backupCommit,
    input: backupCommit.input,
    file: 'backup-commit.ts',
    memoryMb: 1024,
    timeoutSeconds: 300,
    access: { read: ['runs', 'backups'], write: ['backups'], catalog: ['GetItem', 'UpdateItem'] },
  },
  // failure.ts failBackup: releases the snapshot if needed (heads snapshot-released.json, reads
  // no document), finishBackup(failed); builds the BackupFailed detail (collection, source,
  // execution, error) from the execution input.
  BackupFail: {
    handler: backupFail,
    input: backupFail.input,
    file: 'backup-fail.ts',
    ...small,
    access: { check: ['runs'], write: ['runs'], catalog: ['GetItem', 'UpdateItem'] },
  },
  // The restore tasks that read a whole manifest get 1024 MB: opening one of a million chunks
  // (~4 TB at the default 4 MiB chunks; 117 MiB of JSON) takes 1.3–2.0 s and ~500 MB of RSS,
  // one of 250,000 chunks 0.3–0.44 s and ~220 MB (bench/manifest-scale.ts; README, "Limits").
  // resolve.ts: listBackups (the byKind index) / getBackup, reads the manifest, createRestore;
  // for a point in time (replay-plan.ts) lists and reads the collection's segments to find the
  // point and the backup before it (it reads the chain whole, as `restore --to` does).
  RestoreResolve: {
    handler: restoreResolve,
    input: restoreResolve.input,
    file: 'restore-resolve.ts',
    memoryMb: 1024,
    timeoutSeconds: 120,
    access: { read: ['backups', 'segments'], catalog: ['GetItem', 'Query', 'PutItem'] },
  },
  // prepare.ts: reads the manifest, creates the target database, applies pre-data DDL.
  RestorePrepare: {
    handler: restorePrepare,
    input: restorePrepare.input,
    file: 'restore-prepare.ts',
    memoryMb: 1024,
    timeoutSeconds: 300,
    access: { databases: 'restoreTargets', read: ['backups'] },
  },
  // load.ts: reads the manifest and chunks, COPY FROM into the target.
  RestoreLoadBatch: {
    handler: restoreLoadBatch,
    input: restoreLoadBatch.input,
    file: 'restore-load-batch.ts',
    ...batch(1769),
    access: { databases: 'restoreTargets', read: ['backups', 'chunks'] },
  },
  // finish.ts: incremental layers (reads their chunks), post-data DDL, sequences.
  RestoreFinish: {
    handler: restoreFinish,
    input: restoreFinish.input,
    file: 'restore-finish.ts',
    memoryMb: 1024,
    timeoutSeconds: 900,
    access: { databases: 'restoreTargets', read: ['backups', 'chunks'] },
  },
  // verify.ts: COPY TO from the target, checksums against the manifest.
  RestoreVerifyBatch: {
    handler: restoreVerifyBatch,
    input: restoreVerifyBatch.input,
    file: 'restore-verify-batch.ts',
    ...batch(1769),
    access: { databases: 'restoreTargets', read: ['backups'] },
  },
  // restore/replay-step.ts (a point-in-time restore): lists the chain's segments and reads them
  // (their MACs verified), reads the manifest, replays into the target. Each invocation replays
  // for the plan's budget (600 s by default) and hands on: 15 min leaves room for the last group
  // and the verification. Segments are decompressed one at a time: 1769 MB, one vCPU.
  RestoreReplay: {
    handler: restoreReplay,
    input: restoreReplay.input,
    file: 'restore-replay.ts',
    ...batch(1769),
    access: { databases: 'restoreTargets', read: ['backups', 'segments'] },
  },
  // complete.ts: drops progress tables, getRestore + finishRestore(committed).
  RestoreComplete: {
    handler: restoreComplete,
    input: restoreComplete.input,
    file: 'restore-complete.ts',
    memoryMb: 1024,
    timeoutSeconds: 120,
    access: { databases: 'restoreTargets', read: ['backups'], catalog: ['GetItem', 'UpdateItem'] },
  },
  // restore/fail.ts failRestore: getRestore (+ createRestore when Resolve never did) +
  // finishRestore(failed), then connects to the target to say what it holds (resume or drop).
  RestoreFail: {
    handler: restoreFail,
    input: restoreFail.input,
    file: 'restore-fail.ts',
    ...small,
    access: { databases: 'restoreTargets', catalog: ['GetItem', 'PutItem', 'UpdateItem'] },
  },
  // The maintenance machine. Both hold the repository's maintenance lease (PutItem, DeleteItem)
  // and wait up to 4 min for another holder: 15 min.
  // maintenance/expire-step.ts: the collection (catalog, collections/<name>.json), its backups,
  // their tombstones (head, then put backups/<id>/expired.json), expireBackup.
  MaintenanceExpire: {
    handler: maintenanceExpire,
    input: maintenanceExpire.input,
    file: 'maintenance-expire.ts',
    memoryMb: 256,
    timeoutSeconds: 900,
    access: {
      read: ['collections', 'backups'],
      write: ['backups'],
      catalog: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'],
    },
  },
  // maintenance/gc-step.ts: lists and reads every manifest and tombstone, lists the chunks,
  // deletes what no restore point needs (chunks, expired manifests, orphans, runs/ scratch),
  // marks dead runs failed. Holds every manifest's chunk ids in memory (~70 bytes each): 1024 MB.
  MaintenanceGc: {
    handler: maintenanceGc,
    input: maintenanceGc.input,
    file: 'maintenance-gc.ts',
    memoryMb: 1024,
    timeoutSeconds: 900,
    access: {
      read: ['backups', 'chunks', 'runs', 'collections'],
      delete: ['backups', 'chunks', 'runs'],
      catalog: ['GetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem'],
    },
  },
  // The archive machine. pipelines/archive-step.ts: the drainer lease (PutItem, GetItem when
  // held, DeleteItem), the catalog's last segment record (Query, one item), lists the chain's
  // segments from it and reads its tail, writes segments and records them (PutItem; GetItem on a
  // rerun); on a gap a new slot and opening segment. Drains at most
  // ARCHIVE_DRAIN_SECONDS (240 s), so 5 min, the drainer lease's lifetime too. 1024 MB: zstd and
  // JSON of 8 MiB segments on ~0.6 vCPU, to keep up with the source.
  PitrArchive: {
    handler: pitrArchive,
    input: pitrArchive.input,
    file: 'pitr-archive.ts',
    memoryMb: 1024,
    timeoutSeconds: 300,
    access: {
      databases: 'sources',
      read: ['segments'],
      write: ['segments'],
      catalog: ['GetItem', 'Query', 'PutItem', 'DeleteItem'],
    },
  },
} satisfies Record<string, TaskDefinition>;

export type TaskName = keyof typeof TASKS;
export type TaskHandler = (event: any) => Promise<unknown>;

/** Handler of each task, by name (the local runner). */
export const functionHandlers: Readonly<Record<string, TaskHandler>> = Object.fromEntries(
  Object.entries(TASKS).map(([name, t]) => [name, t.handler as TaskHandler]),
);

/** Source file of each task under functions/, by name (CDK bundling). */
export const functionEntries: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TASKS).map(([name, t]) => [name, t.file]),
);
