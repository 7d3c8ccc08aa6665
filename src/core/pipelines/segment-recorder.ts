// The catalog side of the archive's write order (segment → catalog record → slot): the
// `onSegment` for pitr/archive.ts archiveChanges that records each segment it has written. Its
// `records` give the archive the catalog's last record, where listing the repository starts, and
// record what an earlier run wrote and did not (a chain's opening segment, written by pitr enable
// or a gap; a segment of a run that died before recording it). Idempotent: a rerun records the
// same records again.
import type { BackupCatalog } from '../ports/catalog.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';
import type { SegmentSink } from '../pitr/archive-tail.ts';
import { segmentRecords, type ChangeSegment } from '../pitr/segment.ts';
import { segmentRecordOf } from '../catalog/segments.ts';

export function segmentRecorder(catalog: BackupCatalog, recorded?: (record: SegmentRecord) => void): SegmentSink {
  const record = async (segment: ChangeSegment, committedXids?: Iterable<string>) => {
    const xids = committedXids ?? (await segmentRecords(segment)).flatMap((r) => (r.k === 'C' ? [r.xid] : []));
    const entry = segmentRecordOf(segment, xids);
    await catalog.recordSegment(entry);
    return entry;
  };
  const records = {
    async last(collection: string) {
      const last = await catalog.lastSegment(collection);
      return last && { collection, chain: last.chain, afterLsn: last.afterLsn, part: last.part };
    },
    async record(segment: ChangeSegment) {
      await record(segment);
    },
  };
  return Object.assign(
    async (segment: ChangeSegment, committedXids?: Iterable<string>) => {
      // Not `recorded?.(await record(segment))`: an optional call skips its arguments when
      // there is no callback, and the segment would go unrecorded.
      const entry = await record(segment, committedXids);
      recorded?.(entry);
    },
    { records },
  );
}
