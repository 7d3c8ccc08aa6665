// What each task of the backup machine is given: one schema per Task state's Payload in
// state-machines/backup.asl.json, in the machine's order. Kept together, not beside each step,
// so the contract between the ASL and the core reads in one screen against the ASL; the steps'
// own input types stay where they are, and each handler checks its schema against them
// (functions/runtime/task-handler.ts). Strict: a field the ASL does not build is refused.
import { z } from 'zod';
import { BatchIndexSchema, DatabaseRefSchema, StepFailureSchema } from '../task-input.ts';

const BackupIdSchema = z.string().min(1);

/** Plan options (plan.ts PlanOptions), any of them: StartBackup passes them on to Plan. */
const PlanOptionsSchema = z.strictObject({
  rangeBytes: z.number().int().positive().optional(),
  chunkBytes: z.number().int().positive().optional(),
  batchBytes: z.number().int().positive().optional(),
});

/**
 * StartBackup: the execution input itself (run-input.ts builds it). The numbers' bounds are
 * start.ts's to check: it names the option and the limit that applies where it runs.
 */
export const StartBackupInputSchema = z.strictObject({
  source: DatabaseRefSchema,
  backupId: BackupIdSchema.optional(),
  collection: z.string().min(1).optional(),
  full: z.boolean().optional(),
  collectionDefinition: z
    .strictObject({
      schedule: z.string().optional(),
      retention: z.strictObject({
        keepLast: z.number().int().min(1).optional(),
        keepDaily: z.number().int().min(1).optional(),
        keepWeekly: z.number().int().min(1).optional(),
        keepMonthly: z.number().int().min(1).optional(),
      }),
    })
    .optional(),
  options: z
    .strictObject({
      workers: z.number().optional(),
      snapshotHoldSeconds: z.number().optional(),
      maintenanceWaitSeconds: z.number().min(0).optional(),
      plan: PlanOptionsSchema.optional(),
    })
    .optional(),
});

export const HoldSnapshotInputSchema = z.strictObject({
  backupId: BackupIdSchema,
  source: DatabaseRefSchema,
  holdSeconds: z.number().positive(),
});

export const AwaitSnapshotInputSchema = z.strictObject({ backupId: BackupIdSchema });

export const PlanInputSchema = z.strictObject({
  backupId: BackupIdSchema,
  source: DatabaseRefSchema,
  snapshot: z.strictObject({ snapshotId: z.string().min(1), time: z.string(), lsn: z.string().nullable() }),
  options: PlanOptionsSchema.optional(),
});

export const ExportBatchInputSchema = z.strictObject({
  backupId: BackupIdSchema,
  source: DatabaseRefSchema,
  snapshotId: z.string().min(1),
  batch: BatchIndexSchema,
});

/** ReleaseSnapshot, and ReleaseAfterFailure with the failure it raises again. */
export const ReleaseSnapshotInputSchema = z.strictObject({
  backupId: BackupIdSchema,
  failure: StepFailureSchema.optional(),
});

export const CommitInputSchema = z.strictObject({ backupId: BackupIdSchema, startedAt: z.string().min(1) });

/** MarkBackupFailed, and MarkStartFailed (no run id yet: null). The execution input is unchecked. */
export const FailBackupInputSchema = z.strictObject({
  backupId: BackupIdSchema.nullable(),
  executionArn: z.string().optional(),
  input: z.unknown().optional(),
  failure: StepFailureSchema.optional(),
});
