// Replay: applies, in commit order, exactly the archived transactions a backup's snapshot does
// not see, each in one target transaction, up to and including the target's commit
// (FORMAT.md, "Point-in-time recovery", "Replay rule").
import type { ChangeRecord } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { RestoreTargetError } from '../errors.ts';
import { readChain, type SegmentPlace } from './chain.ts';
import { segmentRecords, type CommitPoint } from './segment.ts';
import { ChangeApplier } from './apply-change.ts';
import type { TxidSnapshot } from './target.ts';

export interface ReplayResult {
  transactions: number;
  changes: number;
  skipped: number;
}

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

export async function replayChain(
  storage: RepositoryStorage,
  places: SegmentPlace[],
  snapshot: TxidSnapshot,
  through: CommitPoint,
  target: SqlSession,
): Promise<ReplayResult> {
  await withoutTriggers(target);
  const applier = new ChangeApplier(target);
  const result: ReplayResult = { transactions: 0, changes: 0, skipped: 0 };
  let xid: string | undefined;
  let applying = false;
  let doneInSegment: number | undefined;
  try {
    for await (const { record, segment } of chainRecords(storage, places)) {
      if (doneInSegment !== undefined) {
        // Past the target: the backup must not hold a transaction that commits after it.
        if (segment !== doneInSegment) break;
        if (record.k === 'B' && snapshot.sees(record.xid)) {
          throw new RestoreTargetError(
            `The backup's snapshot already holds transaction ${record.xid}, which commits after the target (${through.time}, lsn:${through.lsn}): it cannot be restored to exactly that point. Choose a target after ${record.xid} commits, or one before the backup.`,
          );
        }
        continue;
      }
      if (record.k === 'B') {
        xid = record.xid;
        applying = !snapshot.sees(xid);
        if (applying) {
          await target.query('BEGIN');
          applier.beginTransaction();
        } else result.skipped++;
      } else if (record.k === 'C') {
        if (applying) {
          await applier.flush();
          await target.query('COMMIT');
          result.transactions++;
        }
        applying = false;
        if (record.lsn === through.lsn) doneInSegment = segment;
      } else if (applying) {
        await applier.apply(record, xid!);
        if (record.k !== 'M') result.changes++;
      }
    }
  } catch (err) {
    if (applying) await target.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return result;
}

/**
 * The archive holds every row the source's triggers wrote, so the target's triggers must not
 * fire again on replay (an audit trigger would log each change twice): replay runs with
 * session_replication_role = replica, as PostgreSQL's own logical replication applies changes.
 */
async function withoutTriggers(target: SqlSession): Promise<void> {
  try {
    await target.query("SELECT pg_catalog.set_config('session_replication_role', 'replica', false)");
  } catch (err) {
    const [{ n }] = await target.query<{ n: number }>(
      `SELECT pg_catalog.count(*)::int AS n FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relnamespace <> 'pg_catalog'::pg_catalog.regnamespace`,
    );
    if (n === 0) return; // nothing would fire twice
    throw new RestoreTargetError(
      `Replay must keep the target's ${n} triggers from firing again (their rows are in the archive), but setting session_replication_role failed: ${(err as Error).message}. ` +
        'Restore as a superuser (RDS/Aurora: a member of rds_superuser).',
    );
  }
}
