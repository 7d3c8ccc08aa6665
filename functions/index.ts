// The Lambda functions, by the name their ASL placeholder uses (`${<Name>FunctionArn}`).
// CDK deploys one function per entry; the local runner maps each Task to the same handler.

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
import { handler as restoreComplete } from './restore-complete.ts';
import { handler as restoreFail } from './restore-fail.ts';
import { handler as maintenanceExpire } from './maintenance-expire.ts';
import { handler as maintenanceGc } from './maintenance-gc.ts';

export type TaskHandler = (event: any) => Promise<unknown>;

export const functionHandlers: Record<string, TaskHandler> = {
  BackupStart: backupStart,
  BackupHoldSnapshot: backupHoldSnapshot,
  BackupAwaitSnapshot: backupAwaitSnapshot,
  BackupPlan: backupPlan,
  BackupExportBatch: backupExportBatch,
  BackupReleaseSnapshot: backupReleaseSnapshot,
  BackupCommit: backupCommit,
  BackupFail: backupFail,
  RestoreResolve: restoreResolve,
  RestorePrepare: restorePrepare,
  RestoreLoadBatch: restoreLoadBatch,
  RestoreFinish: restoreFinish,
  RestoreVerifyBatch: restoreVerifyBatch,
  RestoreComplete: restoreComplete,
  RestoreFail: restoreFail,
  MaintenanceExpire: maintenanceExpire,
  MaintenanceGc: maintenanceGc,
};

/** Source file of each function, for bundling. */
export const functionEntries: Record<string, string> = {
  BackupStart: 'backup-start.ts',
  BackupHoldSnapshot: 'backup-hold-snapshot.ts',
  BackupAwaitSnapshot: 'backup-await-snapshot.ts',
  BackupPlan: 'backup-plan.ts',
  BackupExportBatch: 'backup-export-batch.ts',
  BackupReleaseSnapshot: 'backup-release-snapshot.ts',
  BackupCommit: 'backup-commit.ts',
  BackupFail: 'backup-fail.ts',
  RestoreResolve: 'restore-resolve.ts',
  RestorePrepare: 'restore-prepare.ts',
  RestoreLoadBatch: 'restore-load-batch.ts',
  RestoreFinish: 'restore-finish.ts',
  RestoreVerifyBatch: 'restore-verify-batch.ts',
  RestoreComplete: 'restore-complete.ts',
  RestoreFail: 'restore-fail.ts',
  MaintenanceExpire: 'maintenance-expire.ts',
  MaintenanceGc: 'maintenance-gc.ts',
};
