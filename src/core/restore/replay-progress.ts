// Where a point-in-time restore's replay got to, in the target's progress tables
// (progress-table.ts): one row, written in the transaction of each group it records, with the
// row counts and content checksums as that group left them, so the next invocation, or a resumed
// restore, goes on where the last commit left the target and checks what one run would.
import type { SqlSession } from '../ports/database.ts';
import type { CommitPoint } from '../pitr/segment.ts';
import type { RowCountState } from '../pitr/replay-counts.ts';
import type { ChecksumState } from '../pitr/replay-checksums.ts';
import { RestoreTargetError } from '../errors.ts';
import { PROGRESS_SCHEMA } from './progress-table.ts';
import type { ReplayPlan } from './replay-plan.ts';

export interface ReplayProgress {
  /** The point is reached and the replay verified: the ASL goes on to Complete. */
  done: boolean;
  /** The last archived commit replayed through (once done: the plan's point); null before any. */
  reached: CommitPoint | null;
  transactions: number;
  changes: number;
  /** Archived transactions the backup already held. */
  skipped: number;
  countedTables: number;
  checksummedTables: number;
}

/** What the replay's checks need to go on: absent in a row written before they were kept. */
export interface ReplayChecks {
  counts: RowCountState;
  checksums: ChecksumState;
}

export const NO_PROGRESS: ReplayProgress = {
  done: false,
  reached: null,
  transactions: 0,
  changes: 0,
  skipped: 0,
  countedTables: 0,
  checksummedTables: 0,
};

const TABLE = `${PROGRESS_SCHEMA}.replay`;

/** Where the replay of this target got to, toward the point it was started for (never past another). */
export async function readProgress(
  session: SqlSession,
  plan: ReplayPlan,
): Promise<{ progress: ReplayProgress; checks?: ReplayChecks }> {
  await session.query(
    `CREATE TABLE IF NOT EXISTS ${TABLE} (one boolean PRIMARY KEY CHECK (one), progress jsonb NOT NULL, toward jsonb NOT NULL)`,
  );
  await session.query(`ALTER TABLE ${TABLE} ADD COLUMN IF NOT EXISTS checks jsonb`);
  const [row] = await session.query<{ progress: ReplayProgress; toward: CommitPoint; checks: ReplayChecks | null }>(
    `SELECT progress, toward, checks FROM ${TABLE}`,
  );
  if (row && row.toward.lsn !== plan.point.lsn)
    throw new RestoreTargetError(
      `This target's replay goes to the commit of xid ${row.toward.xid} (lsn:${row.toward.lsn}, ${row.toward.time}) and has reached ${row.progress.reached ? `lsn:${row.progress.reached.lsn}` : 'no commit yet'}; "${plan.to}" is the commit of xid ${plan.point.xid} (lsn:${plan.point.lsn}). ` +
        'Restore to this point into a new database.',
    );
  return { progress: row?.progress ?? { ...NO_PROGRESS }, ...(row?.checks ? { checks: row.checks } : {}) };
}

/** In the transaction of the changes it records. */
export async function writeProgress(
  session: SqlSession,
  progress: ReplayProgress,
  checks: ReplayChecks,
  toward: CommitPoint,
): Promise<void> {
  await session.query(
    `INSERT INTO ${TABLE} (one, progress, toward, checks) VALUES (true, $1::jsonb, $2::jsonb, $3::jsonb)
       ON CONFLICT (one) DO UPDATE SET progress = EXCLUDED.progress, checks = EXCLUDED.checks`,
    [JSON.stringify(progress), JSON.stringify(toward), JSON.stringify(checks)],
  );
}

/**
 * True once a replay has committed a group in this target: its tables are no longer the backup's.
 * Verify (verify.ts) compared them with the backup before the replay began, and a resumed
 * restore does not compare them again.
 */
export async function replayBegun(session: SqlSession): Promise<boolean> {
  const [row] = await session.query<{ begun: boolean }>(
    `SELECT pg_catalog.to_regclass('${TABLE}') IS NOT NULL AS begun`,
  );
  if (!row?.begun) return false;
  const [progress] = await session.query<{ n: number }>(`SELECT pg_catalog.count(*)::int AS n FROM ${TABLE}`);
  return (progress?.n ?? 0) > 0;
}
