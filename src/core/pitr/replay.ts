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
export async function* chainRecords(storage: RepositoryStorage, places: SegmentPlace[]): AsyncIterable<{ record: ChangeRecord; segment: number }> {
  let n = 0;
  for await (const segment of readChain(storage, places)) {
    for (const record of await segmentRecords(segment)) yield { record, segment: n };
    n++;
  }
}

export async function replayChain(storage: RepositoryStorage, places: SegmentPlace[], snapshot: TxidSnapshot, through: CommitPoint, target: SqlSession): Promise<ReplayResult> {
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
          throw new RestoreTargetError(`The backup's snapshot already holds transaction ${record.xid}, which commits after the target (${through.time}, lsn:${through.lsn}): it cannot be restored to exactly that point. Choose a target after ${record.xid} commits, or one before the backup.`);
        }
        continue;
      }
      if (record.k === 'B') {
        xid = record.xid;
        applying = !snapshot.sees(xid);
        if (applying) {
          await target.query('BEGIN');
          applier.beginTransaction();
        }
        else result.skipped++;
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
