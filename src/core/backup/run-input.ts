// The backup state machine's execution input: the one builder the CLI, the cloud CLI and the
// schedules use. StartBackup checks it and returns what later states read (start.ts).
import type { DatabaseRef } from '../ports/database.ts';
import type { RetentionPolicy } from '../ports/catalog.ts';
import { DEFAULT_PLAN_OPTIONS, type PlanOptions } from './plan.ts';
import type { StartBackupInput } from './start.ts';

export interface BackupRunArgs {
  source: DatabaseRef;
  /** Chosen by the caller when it must know the id before the run (cloud CLI: the execution name). */
  backupId?: string;
  collection?: string;
  /** A full backup in a collection. */
  full?: boolean;
  /** Scheduled runs: the first one creates the collection. */
  collectionDefinition?: { schedule?: string; retention: RetentionPolicy };
  workers?: number;
  snapshotHoldSeconds?: number;
  plan?: Partial<Pick<PlanOptions, 'chunkBytes' | 'rangeBytes'>>;
}

export function backupRunInput(args: BackupRunArgs): StartBackupInput {
  return {
    ...(args.backupId !== undefined ? { backupId: args.backupId } : {}),
    source: {
      credentials: args.source.credentials,
      ...(args.source.database !== undefined ? { database: args.source.database } : {}),
    },
    ...(args.collection !== undefined ? { collection: args.collection } : {}),
    ...(args.full ? { full: true } : {}),
    ...(args.collectionDefinition ? { collectionDefinition: args.collectionDefinition } : {}),
    options: {
      ...(args.workers !== undefined ? { workers: args.workers } : {}),
      ...(args.snapshotHoldSeconds !== undefined ? { snapshotHoldSeconds: args.snapshotHoldSeconds } : {}),
      plan: {
        chunkBytes: args.plan?.chunkBytes ?? DEFAULT_PLAN_OPTIONS.chunkBytes,
        rangeBytes: args.plan?.rangeBytes ?? DEFAULT_PLAN_OPTIONS.rangeBytes,
      },
    },
  };
}
