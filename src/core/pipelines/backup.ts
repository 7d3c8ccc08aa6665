// The backup state machine, step by step, as state-machines/backup.asl.json runs it (a test
// holds the two together). Read this first; each step's file says how it does what it does.
//
//   StartBackup
//     → SnapshotAndExport (Parallel):
//          HoldSnapshot                 holds one exported snapshot open for the whole export
//        ‖ AwaitSnapshot → Plan → ExportBatches (Map: ExportBatch) → ReleaseSnapshot
//                         (a failure: ReleaseAfterFailure, then it is raised again)
//     → Commit → EmitBackupCommitted
//   any failure: MarkBackupFailed (or MarkStartFailed) → EmitBackupFailed → BackupFailed
import { startBackup } from '../backup/start.ts';
import { awaitSnapshot, holdSnapshot, releaseSnapshot } from '../backup/hold-snapshot.ts';
import { planBackup } from '../backup/plan.ts';
import { exportBatch } from '../backup/export.ts';
import { commitBackup } from '../backup/commit.ts';
import { failBackup } from '../failure.ts';
import { step } from './step.ts';

export const BACKUP_PIPELINE = [
  step(
    'StartBackup',
    'BackupStart',
    startBackup,
    'checks the input, records the run `running` (in a collection: with its parent), waits while gc holds the repository',
  ),
  step(
    'HoldSnapshot',
    'BackupHoldSnapshot',
    holdSnapshot,
    'exports a snapshot and holds its session open until released or the window ends',
  ),
  step('AwaitSnapshot', 'BackupAwaitSnapshot', awaitSnapshot, 'reads the snapshot the holder published'),
  step(
    'Plan',
    'BackupPlan',
    planBackup,
    'captures the schema inside the snapshot, splits tables into ranges, writes the plan',
  ),
  step(
    'ExportBatch',
    'BackupExportBatch',
    exportBatch,
    'per batch: COPY each range inside the snapshot, cut, compress, hash, store chunks',
  ),
  step('ReleaseSnapshot', 'BackupReleaseSnapshot', releaseSnapshot, 'tells the holder to end'),
  step(
    'ReleaseAfterFailure',
    'BackupReleaseSnapshot',
    releaseSnapshot,
    'the same after a failure, which it raises again',
  ),
  step(
    'Commit',
    'BackupCommit',
    commitBackup,
    'assembles and writes the manifest, then commits the catalog record: last',
  ),
  step('MarkStartFailed', 'BackupFail', failBackup, 'StartBackup failed: describes it for the event'),
  step(
    'MarkBackupFailed',
    'BackupFail',
    failBackup,
    'releases the snapshot, records the run `failed`, describes it for the event',
  ),
];
