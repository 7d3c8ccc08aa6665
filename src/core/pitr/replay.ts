// Replay: applies, in commit order, exactly the archived transactions a backup's snapshot does
// not see, each whole (several to a target transaction), up to and including the target's commit
// (FORMAT.md, "Point-in-time recovery", "Replay rule").
import type { ChangeRecord } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { RestoreTargetError } from '../errors.ts';
import { readChain, type SegmentPlace } from './chain.ts';
import { segmentRecords, type CommitPoint } from './segment.ts';
import { ChangeApplier } from './apply-change.ts';
import type { TxidSnapshot } from './target.ts';
import type { Manifest } from '../repository/manifest.ts';
import { ReplayRowCounts } from './replay-counts.ts';
import { ReplayChecksums } from './replay-checksums.ts';

/**
 * Archived transactions replay whole, in commit order, several to a target transaction: nobody
 * else uses the target before the restore completes, the state after each group is the source's
 * state after its last transaction, and a failure fails the whole restore anyway. Fewer commits,
 * and batches (row-batches.ts) that span small transactions.
 */
const GROUP_CHANGES = 20_000;

export interface ReplayResult {
  transactions: number;
  changes: number;
  skipped: number;
  /** Tables whose row count was checked after replay (those it changed, and that still exist). */
  countedTables: number;
  /** Tables whose content checksum was checked too (replay-checksums.ts says which can be). */
  checksummedTables: number;
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
  /** The restored backup's manifest: each changed table's row count is checked against it and the archive. */
  manifest: Manifest,
): Promise<ReplayResult> {
  const replica = await withoutTriggers(target);
  // A restore that dies is redone from the start: waiting for each commit's WAL flush buys nothing.
  await target.query("SELECT pg_catalog.set_config('synchronous_commit', 'off', false)");
  // A batched UPDATE/DELETE finds each of its rows by key: index lookups, never a scan of the
  // table per batch, which a hash or merge join of the VALUES list would make.
  await target.query(
    "SELECT pg_catalog.set_config('enable_hashjoin', 'off', false), pg_catalog.set_config('enable_mergejoin', 'off', false)",
  );
  const counts = await ReplayRowCounts.start(target, manifest);
  const applier = new ChangeApplier(target, counts, replica);
  const checksums = new ReplayChecksums(manifest);
  const result: ReplayResult = { transactions: 0, changes: 0, skipped: 0, countedTables: 0, checksummedTables: 0 };
  let xid: string | undefined;
  let applying = false;
  /** A target transaction is open: it holds one or more whole archived transactions. */
  let open = false;
  let sinceCommit = 0;
  const commit = async () => {
    await applier.flush();
    await target.query('COMMIT');
    open = false;
    sinceCommit = 0;
  };
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
          if (!open) await target.query('BEGIN');
          open = true;
          applier.beginTransaction();
        } else result.skipped++;
      } else if (record.k === 'C') {
        if (applying) {
          await counts.resolve(xid!, false);
          result.transactions++;
          if (sinceCommit >= GROUP_CHANGES) await commit();
        }
        applying = false;
        if (record.lsn === through.lsn) doneInSegment = segment;
      } else if (applying) {
        await applier.apply(record, xid!);
        const whole = record.k === 'U' || record.k === 'D' ? await applier.wholeOldRows(record.rel) : false;
        checksums.observe(record, xid!, () => whole);
        if (record.k !== 'M') {
          result.changes++;
          sinceCommit++;
        }
      }
    }
    if (open) await commit();
  } catch (err) {
    if (open) await target.query('ROLLBACK').catch(() => {});
    throw err;
  }
  result.countedTables = await counts.verify();
  result.checksummedTables = await checksums.verify(target);
  return result;
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
