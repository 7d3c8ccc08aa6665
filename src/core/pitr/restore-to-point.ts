// `restoreToPoint`: the restore to a point as one call, for tests and benchmarks that restore the
// base backup themselves: Resolve's plan (the commit the target ends at, the newest backup whose
// snapshot does not hold it) → restore that backup (the caller's restore state machine) → the
// restore machine's own replay loop (restore/replay-step.ts), in one invocation. The CLI runs the
// restore state machine with the plan instead, as AWS does (FORMAT.md, "Point-in-time recovery").
import type { TaskContext } from '../task-context.ts';
import type { DatabaseRef } from '../ports/database.ts';
import { readManifest } from '../repository/manifest.ts';
import { planReplay } from '../restore/replay-plan.ts';
import { replay } from '../restore/replay-step.ts';
import { NO_PROGRESS, type ReplayProgress } from '../restore/replay-progress.ts';
import { describeTarget } from './resolve-point.ts';
import type { CommitPoint } from './segment.ts';
import type { PitrTarget } from './target.ts';

export interface PointRestoreInput {
  collection: string;
  target: PitrTarget;
  /** The database to restore into (the restore state machine prepares it). */
  into: DatabaseRef;
  /** Restores one backup into `into`: the restore state machine, run by the caller's runtime. */
  restoreBackup(backupId: string): Promise<void>;
}

export type ReplayResult = Pick<
  ReplayProgress,
  'transactions' | 'changes' | 'skipped' | 'countedTables' | 'checksummedTables'
>;

export interface PointRestoreResult {
  backupId: string;
  /** The exact point reached: the last transaction the target includes. */
  reached: CommitPoint;
  replay: ReplayResult;
}

export async function restoreToPoint(input: PointRestoreInput, ctx: TaskContext): Promise<PointRestoreResult> {
  const { backupId, plan } = await planReplay(ctx, input.collection, describeTarget(input.target), 0);
  await input.restoreBackup(backupId);
  const manifest = await readManifest(ctx.storage, backupId);
  const session = await ctx.databases.connect(input.into, { applicationName: 'tidemark replay' });
  try {
    // The base's restore completed: no progress tables to keep the replay's position in, nor a
    // need for one (a failure fails the call).
    const done = await replay(ctx, session, {
      plan,
      manifest,
      progress: NO_PROGRESS,
      deadline: Number.POSITIVE_INFINITY,
      save: async () => {},
    });
    return { backupId, reached: done.reached!, replay: replayResult(done) };
  } finally {
    await session.close();
  }
}

/** What the CLI reports of a replay (and `--json` prints as `replay`). */
export function replayResult(p: ReplayProgress): ReplayResult {
  return {
    transactions: p.transactions,
    changes: p.changes,
    skipped: p.skipped,
    countedTables: p.countedTables,
    checksummedTables: p.checksummedTables,
  };
}
