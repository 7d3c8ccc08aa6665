// Replay's building blocks that are not the loop: a chain's records in order, and the session
// setting that keeps the target's triggers quiet. The loop, which applies in commit order exactly
// the archived transactions a backup's snapshot does not see, is restore/replay-step.ts's `replay`
// (FORMAT.md, "Point-in-time recovery", "Replay rule"), for the restore machine and restoreToPoint.
import type { ChangeRecord } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { RestoreTargetError } from '../errors.ts';
import { readChain, type SegmentPlace } from './chain.ts';
import { segmentRecords } from './segment.ts';

/** Every record of a chain, in order, with the segment it came from. */
export async function* chainRecords(
  storage: RepositoryStorage,
  places: SegmentPlace[],
): AsyncIterable<{ record: ChangeRecord; segment: number }> {
  let n = 0;
  for await (const segment of readChain(storage, places)) {
    for (const record of await segmentRecords(segment)) yield { record, segment: n };
    n++;
  }
}

/**
 * The archive holds every row the source's triggers wrote, so the target's triggers must not
 * fire again on replay (an audit trigger would log each change twice): replay runs with
 * session_replication_role = replica, as PostgreSQL's own logical replication applies changes.
 * Foreign keys are not checked then either, so changes to different tables may be reordered
 * within a transaction to batch them (row-batches.ts): true when that is so.
 */
export async function withoutTriggers(target: SqlSession): Promise<boolean> {
  try {
    await target.query("SELECT pg_catalog.set_config('session_replication_role', 'replica', false)");
    return true;
  } catch (err) {
    const [{ n }] = await target.query<{ n: number }>(
      `SELECT pg_catalog.count(*)::int AS n FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relnamespace <> 'pg_catalog'::pg_catalog.regnamespace`,
    );
    if (n === 0) return false; // nothing would fire twice (foreign keys are still checked: no reordering)
    throw new RestoreTargetError(
      `Replay must keep the target's ${n} triggers from firing again (their rows are in the archive), but setting session_replication_role failed: ${(err as Error).message}. ` +
        'Restore as a superuser (RDS/Aurora: a member of rds_superuser).',
    );
  }
}
