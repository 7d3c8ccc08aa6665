// The catalog side of the archive's write order (segment → catalog record → slot): an
// `onSegment` for pitr/archive.ts archiveChanges that records each segment it has written, and
// the chain's opening segment (written by pitr enable or a gap) just before the chain's first
// drained one, so no run pays a read for it. Idempotent: a rerun records the same records again.
import type { BackupCatalog } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';
import { chainLsn } from '../pitr/chain.ts';
import { readSegment, segmentRecords, type ChangeSegment } from '../pitr/segment.ts';
import { segmentRecordOf } from '../catalog/segments.ts';

export function segmentRecorder(
  catalog: BackupCatalog,
  storage: RepositoryStorage,
  recorded?: (record: SegmentRecord) => void,
): (segment: ChangeSegment) => Promise<void> {
  const record = async (segment: ChangeSegment) => {
    const xids = (await segmentRecords(segment)).flatMap((r) => (r.k === 'C' ? [r.xid] : []));
    const entry = segmentRecordOf(segment, xids);
    await catalog.recordSegment(entry);
    return entry;
  };
  return async (segment) => {
    const start = chainLsn(segment.chain);
    if (segment.afterLsn === start && segment.part === 1) {
      const opening = { collection: segment.collection, chain: segment.chain, afterLsn: start, part: 0 };
      await record(await readSegment(storage, opening));
    }
    // Not `recorded?.(await record(segment))`: an optional call skips its arguments when
    // there is no callback, and the segment would go unrecorded.
    const entry = await record(segment);
    recorded?.(entry);
  };
}
