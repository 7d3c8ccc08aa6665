// A point-in-time restore's replay plan, made by Resolve: the target resolved to the archived
// commit it ends at and the backup to restore, by the same code as `tidemark restore --to`
// (pitr/restore-to-point.ts), and what ReplayChanges needs to replay up to it. Small (invariant
// 4): the chain is named, not listed, and its segments are counted.
import type { TaskContext } from '../task-context.ts';
import { chainOf, chooseBackup } from '../pitr/restore-to-point.ts';
import type { CommitPoint } from '../pitr/segment.ts';
import { parseTarget } from '../pitr/target.ts';
import { compareLsn } from '../pitr/lsn.ts';
import { DEFAULT_REPLAY_SECONDS } from './run-input.ts';

export interface ReplayPlan {
  collection: string;
  /** The chain that holds the point (its id: the LSN it starts at). */
  chain: string;
  /**
   * How many of the chain's segments, from its first, the replay reads: through every segment
   * that may hold the point's transaction, whose rest is read to check the backup holds none of it.
   */
  segments: number;
  /** The target as given, for the record. */
  to: string;
  /** The last transaction the target includes. */
  point: CommitPoint;
  /** How long one ReplayChanges invocation replays before it hands on to the next. */
  budgetSeconds: number;
}

export async function planReplay(
  ctx: TaskContext,
  collection: string,
  to: string,
  budgetSeconds: number | undefined,
): Promise<{ backupId: string; plan: ReplayPlan }> {
  const target = parseTarget(to);
  const { places, point } = await chainOf(ctx, collection, target);
  const { manifest } = await chooseBackup(ctx, collection, places, point, target);
  // A segment holds commits after its afterLsn; parts of one LSN share it, so all are kept.
  const segments = places.filter((p) => compareLsn(p.afterLsn, point.lsn) < 0).length;
  return {
    backupId: manifest.backupId,
    plan: {
      collection,
      chain: places[0]!.chain,
      segments,
      to,
      point,
      budgetSeconds: budgetSeconds ?? DEFAULT_REPLAY_SECONDS,
    },
  };
}
