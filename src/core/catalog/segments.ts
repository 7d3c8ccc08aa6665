// Segment records' ids and order, one definition for every backend. The id is
// `<collection>:<chain>:<afterLsn as 16 hex>:<part as 4 digits>`: collection names hold no `:`
// and the rest is fixed-width, so id order is LSN order and a collection's (or a chain's)
// records share an id prefix, which a backend with an index on ids lists in one query.
import { layout, lsnKey } from '../repository/layout.ts';
import type { ChangeSegment } from '../pitr/segment.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';
import { compare } from './order.ts';

export function segmentItemId(r: Pick<SegmentRecord, 'collection' | 'chain' | 'afterLsn' | 'part'>): string {
  return `${segmentIdPrefix(r.collection, r.chain)}${lsnKey(r.afterLsn)}:${String(r.part).padStart(4, '0')}`;
}

/** The id prefix of a collection's records, or of one chain's. */
export function segmentIdPrefix(collection: string, chain?: string): string {
  return chain === undefined ? `${collection}:` : `${collection}:${chain}:`;
}

export function bySegmentOrder(a: SegmentRecord, b: SegmentRecord): number {
  return compare(segmentItemId(a), segmentItemId(b));
}

/**
 * The record of a sealed segment. `xids` comes from its records (the caller has them: the
 * writer, or a reader that checked the payload), as the header names only the first and last commit.
 */
export function segmentRecordOf(segment: ChangeSegment, committedXids: Iterable<string>): SegmentRecord {
  let min: bigint | undefined;
  let max: bigint | undefined;
  for (const xid of committedXids) {
    const x = BigInt(xid);
    if (min === undefined || x < min) min = x;
    if (max === undefined || x > max) max = x;
  }
  const { collection, chain, afterLsn, part, endLsn, openAtEnd, transactions, changes } = segment;
  return {
    collection,
    chain,
    afterLsn,
    part,
    endLsn,
    openAtEnd,
    transactions,
    changes,
    ...(segment.firstCommit ? { firstCommit: segment.firstCommit } : {}),
    ...(segment.lastCommit ? { lastCommit: segment.lastCommit } : {}),
    ...(min !== undefined && max !== undefined ? { xids: { min: min.toString(), max: max.toString() } } : {}),
    bytes: segment.payload.bytes,
    storedBytes: Buffer.byteLength(segment.payload.data, 'base64'),
    key: layout.segment(collection, chain, afterLsn, part),
    ...(segment.sealedAt ? { sealedAt: segment.sealedAt } : {}),
  };
}
