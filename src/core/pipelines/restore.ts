// The restore state machine, step by step, as state-machines/restore.asl.json runs it (a test
// holds the two together). Read this first; each step's file says how it does what it does.
//
//   Resolve → Prepare → Load (Map: LoadBatch) → Finish → Verify (Map: VerifyBatch; or skipped)
//     → ReplayChanges (a point in time only; again until done) → Complete → EmitRestoreCompleted
//   any failure: MarkRestoreFailed → EmitRestoreFailed → RestoreFailed
import { resolveRestore } from '../restore/resolve.ts';
import { prepareTarget } from '../restore/prepare.ts';
import { loadBatch } from '../restore/load.ts';
import { finishRestore } from '../restore/finish.ts';
import { verifyBatch } from '../restore/verify.ts';
import { replayChanges } from '../restore/replay-step.ts';
import { completeRestore } from '../restore/complete.ts';
import { failRestore } from '../restore/fail.ts';
import { step } from './step.ts';

export const RESTORE_PIPELINE = [
  step(
    'Resolve',
    'RestoreResolve',
    resolveRestore,
    'checks the input, finds the committed backup (or the restore to resume), records the restore `running`',
  ),
  step(
    'Prepare',
    'RestorePrepare',
    prepareTarget,
    'creates the target database (or takes over a resumed one), applies pre-data DDL with the progress tables',
  ),
  step(
    'LoadBatch',
    'RestoreLoadBatch',
    loadBatch,
    'per batch: get each chunk, check its hash, COPY it in, record it done in the same transaction',
  ),
  step(
    'Finish',
    'RestoreFinish',
    finishRestore,
    'applies incremental layers and post-data DDL (indexes, constraints) in dependency order, sets sequences',
  ),
  step(
    'VerifyBatch',
    'RestoreVerifyBatch',
    verifyBatch,
    'per batch: reads tables back and compares row counts and checksums with the manifest',
  ),
  step(
    'ReplayChanges',
    'RestoreReplay',
    replayChanges,
    'a point in time: replays the archived transactions the backup does not hold, up to the point, for a time budget per call; its position commits with each group',
  ),
  step(
    'Complete',
    'RestoreComplete',
    completeRestore,
    'drops the progress tables and records the restore `committed`: last',
  ),
  step('MarkRestoreFailed', 'RestoreFail', failRestore, 'records the restore `failed` and says what the target holds'),
];
