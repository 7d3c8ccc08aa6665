// A segment's catalog record (src/core/catalog/segments.ts): what it says of the segment, its xid
// range over 64-bit xids (commit order is not xid order), and ids whose text order is LSN order.
import { describe, expect, it } from 'vitest';
import type { ChangeSegment } from '#core/pitr/segment.ts';
import { bySegmentOrder, segmentItemId, segmentRecordOf } from '#core/catalog/segments.ts';
import type { SegmentRecord } from '#core/ports/segment-catalog.ts';

describe('segmentRecordOf', () => {
  it('carries the LSN range, commits, counts, sizes and key; the xid range is numeric, across an epoch', () => {
    const segment: ChangeSegment = {
      collection: 'shop',
      chain: '0000000000000010',
      afterLsn: '0/10',
      part: 2,
      slot: 'tidemark_shop',
      source: { systemIdentifier: '1', database: 'shop', serverVersionNum: 150000 },
      endLsn: '0/A0',
      openAtEnd: false,
      transactions: 3,
      changes: 7,
      firstCommit: { xid: '4294967301', lsn: '0/20', time: '2026-12-07T00:00:00.000001Z' },
      lastCommit: { xid: '4294967290', lsn: '0/A0', time: '2026-12-07T00:00:01.000001Z' },
      sealedAt: '2026-12-07T00:00:02.000Z',
      // 12 bytes stored (16 base64 characters, no padding).
      payload: { codec: 'zstd', sha256: '0'.repeat(64), bytes: 300, data: 'AAAAAAAAAAAAAAAA' },
    };
    // 9 sorts after 10 as text, and 4294967296 + 5 after 4294967290 only as a number.
    const record = segmentRecordOf(segment, ['4294967301', '9', '4294967290']);
    expect(record).toEqual({
      collection: 'shop',
      chain: '0000000000000010',
      afterLsn: '0/10',
      part: 2,
      endLsn: '0/A0',
      openAtEnd: false,
      transactions: 3,
      changes: 7,
      firstCommit: segment.firstCommit,
      lastCommit: segment.lastCommit,
      xids: { min: '9', max: '4294967301' },
      bytes: 300,
      storedBytes: 12,
      key: 'segments/shop/0000000000000010/0000000000000010-0002.json',
      sealedAt: '2026-12-07T00:00:02.000Z',
    });
    expect(segmentRecordOf(segment, []).xids).toBeUndefined();
  });

  it('ids sort as LSNs, and a collection name that prefixes another does not share its id prefix', () => {
    const r = (collection: string, afterLsn: string, part = 0) => ({
      collection,
      chain: '0000000000000010',
      afterLsn,
      part,
    });
    expect(segmentItemId(r('shop', '0/FF', 3))).toBe('shop:0000000000000010:00000000000000FF:0003');
    const ordered = [r('shop', '0/FF'), r('shop', '0/100'), r('shop', '0/100', 1), r('shop', '1/0')] as SegmentRecord[];
    expect([...ordered].reverse().sort(bySegmentOrder)).toEqual(ordered);
    expect(segmentItemId(r('shop-2', '0/0')).startsWith('shop:')).toBe(false);
  });
});
