// The archive state machine's execution input (state-machines/archive.asl.json): the one builder
// the schedules (infra/constructs/change-archive.ts) and tests use, and the schema the task checks.
import { z } from 'zod';
import type { DatabaseRef } from '../ports/database.ts';

/**
 * How long one run drains before it stops starting new passes. The archive machine is an
 * Express workflow, whose executions end at 5 minutes: 4 leave a pass in progress a minute to
 * finish (README, "Costs": why Express). The schedule's next run continues where this one stopped.
 */
export const ARCHIVE_DRAIN_SECONDS = 240;
/** The Lambda timeout and the drainer lease's lifetime: a lease never outlives its holder. */
export const ARCHIVE_TASK_TIMEOUT_SECONDS = 300;

export const ArchiveRunInputSchema = z.strictObject({
  collection: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a collection name'),
  /** The source, by the name of its credentials (a Secrets Manager ARN in AWS). */
  source: z.strictObject({
    credentials: z.string().min(1),
    database: z.string().min(1).max(63).optional(),
  }),
  drainSeconds: z.number().int().min(1).max(ARCHIVE_DRAIN_SECONDS),
  /** Uncompressed record bytes per segment (tests); the archiver's default otherwise. */
  segmentBytes: z.number().int().min(1024).optional(),
});

export type ArchiveRunInput = z.output<typeof ArchiveRunInputSchema>;

export interface ArchiveRunArgs {
  collection: string;
  source: DatabaseRef;
  drainSeconds?: number;
  segmentBytes?: number;
}

export function archiveRunInput(args: ArchiveRunArgs): ArchiveRunInput {
  return {
    collection: args.collection,
    source: {
      credentials: args.source.credentials,
      ...(args.source.database !== undefined ? { database: args.source.database } : {}),
    },
    drainSeconds: args.drainSeconds ?? ARCHIVE_DRAIN_SECONDS,
    ...(args.segmentBytes !== undefined ? { segmentBytes: args.segmentBytes } : {}),
  };
}
