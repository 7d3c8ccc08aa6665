// A point-in-time restore's replay plan, made by Resolve: the target resolved to the archived
// commit it ends at and the backup to restore (pitr/point-base.ts), and what ReplayChanges needs
// to replay up to it. Small (invariant 4): the chain is named, not listed, and its segments are
// counted.
import type { TaskContext } from '../task-context.ts';
import { chainOf, chooseBackup } from '../pitr/point-base.ts';
import type { CommitPoint } from '../pitr/segment.ts';
import { parseTarget } from '../pitr/target.ts';
import { compareLsn } from '../pitr/lsn.ts';
import { DEFAULT_REPLAY_SECONDS, type RestoreRun } from './run-input.ts';
import type { RestoreRecord } from '../ports/catalog.ts';

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

/** What a restore's catalog record keeps of its plan, so that `resume` replays to the same point. */
export type RecordedReplay = NonNullable<RestoreRecord['replay']>;

/**
 * Resolve's replay: a new plan for `collection` and `to`; for the resume of a restore to a point,
 * that restore's plan as recorded (the same point, from the same backup, even when `to` was
 * `latest` and the archive has grown since); null for a restore to a backup. A resumed restore
 * verifies only if the one it resumes did: its replay may have begun on tables nobody read back.
 */
export async function replayOf(
  ctx: TaskContext,
  run: RestoreRun,
): Promise<{ backupId: string; plan: ReplayPlan; record: RecordedReplay } | null> {
  if (run.to !== undefined) {
    const planned = await planReplay(ctx, run.collection!, run.to, run.options.replaySeconds);
    return { ...planned, record: recorded(planned.plan, run.options.verify) };
  }
  const prior = run.resume ? await ctx.catalog.getRestore(run.resume) : undefined;
  // Not failed, or no such restore: Resolve refuses it as for any restore.
  if (prior?.state !== 'failed' || !prior.replay) return null;
  const { verify, ...plan } = prior.replay;
  run.options.verify &&= verify;
  return {
    backupId: prior.backupId,
    plan: { ...plan, budgetSeconds: run.options.replaySeconds ?? DEFAULT_REPLAY_SECONDS },
    record: prior.replay,
  };
}

function recorded(plan: ReplayPlan, verify: boolean): RecordedReplay {
  const { budgetSeconds: _, ...kept } = plan;
  return { ...kept, verify };
}
