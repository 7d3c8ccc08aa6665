// What each task of the restore machine is given: one schema per Task state's Payload in
// state-machines/restore.asl.json, in the machine's order (see backup/task-inputs.ts for why
// they are kept together). Resolve gets the execution input unchecked and parses it itself
// (run-input.ts), so a malformed one is refused with the restore's own usage text.
import { z } from 'zod';
import { BatchIndexSchema, DatabaseRefSchema, StepFailureSchema } from '../task-input.ts';

const RestoreIdSchema = z.string().min(1);
const BackupIdSchema = z.string().min(1);

export const ResolveInputSchema = z.strictObject({ input: z.unknown(), executionName: RestoreIdSchema });

export const PrepareInputSchema = z.strictObject({
  restoreId: RestoreIdSchema,
  backupId: BackupIdSchema,
  target: DatabaseRefSchema,
  resumes: z.string().min(1).nullable().optional(),
  /** Resolve's options.tablespaceMap (run-input.ts); optional for an execution started before it. */
  tablespaceMap: z.record(z.string().min(1), z.string().min(1)).optional(),
});

/** LoadBatch and VerifyBatch: one Map item each. */
export const RestoreBatchInputSchema = z.strictObject({
  restoreId: RestoreIdSchema,
  backupId: BackupIdSchema,
  target: DatabaseRefSchema,
  batch: BatchIndexSchema,
});

export const FinishInputSchema = z.strictObject({
  restoreId: RestoreIdSchema,
  backupId: BackupIdSchema,
  target: DatabaseRefSchema,
  parallelism: z.number().int().min(1).optional(),
  tablespaceMap: z.record(z.string().min(1), z.string().min(1)).optional(),
});

const CommitPointSchema = z.strictObject({ xid: z.string().min(1), lsn: z.string().min(1), time: z.string().min(1) });

/** ReplayChanges: Resolve's replay plan (replay-plan.ts); its progress is in the target, not here. */
export const ReplayInputSchema = z.strictObject({
  restoreId: RestoreIdSchema,
  backupId: BackupIdSchema,
  target: DatabaseRefSchema,
  replay: z.strictObject({
    collection: z.string().min(1),
    chain: z.string().regex(/^[0-9A-F]{16}$/),
    segments: z.number().int().min(1),
    to: z.string().min(1),
    point: CommitPointSchema,
    budgetSeconds: z.number().int().min(0),
  }),
});

/** What the last ReplayChanges returned ($.replayed); NoReplay's `{done: true, reached: null}` for a restore to a backup. */
const NoReplaySchema = z.strictObject({ done: z.literal(true), reached: z.null() });
const ReplayProgressSchema = z.strictObject({
  done: z.literal(true),
  reached: CommitPointSchema,
  transactions: z.number().int(),
  changes: z.number().int(),
  skipped: z.number().int(),
  countedTables: z.number().int(),
  checksummedTables: z.number().int(),
});

export const CompleteInputSchema = z.strictObject({
  restoreId: RestoreIdSchema,
  backupId: BackupIdSchema,
  target: DatabaseRefSchema,
  verified: z.boolean().optional(),
  replayed: z.union([ReplayProgressSchema, NoReplaySchema]).optional(),
});

/** MarkRestoreFailed: the execution's name and raw input, which may be what failed. */
export const FailRestoreInputSchema = z.strictObject({
  executionName: RestoreIdSchema,
  executionArn: z.string().optional(),
  input: z.unknown().optional(),
  failure: StepFailureSchema.optional(),
});
