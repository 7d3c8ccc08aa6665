// Catalog records of change segments (issue 13, FORMAT.md "Point-in-time recovery"): what a
// restore or `pitr status` needs to pick segments without reading them. The segment document in
// the repository stays the source of truth; a record is written after its segment and before the
// slot moves past it, so every segment whose changes the source may have recycled is recorded.
import type { CommitPoint } from '../pitr/segment.ts';

export interface SegmentRecord {
  collection: string;
  /** The chain (its start LSN as 16 hex digits). */
  chain: string;
  /** LSN range: commits after `afterLsn`, up to and including `endLsn`. */
  afterLsn: string;
  /** Segments sharing `afterLsn` (a transaction spilling over several segments) count up from 0. */
  part: number;
  endLsn: string;
  /** Its last transaction continues in the next segment. */
  openAtEnd: boolean;
  transactions: number;
  changes: number;
  /** First and last commit (xid, commit LSN, time) of the segment's whole transactions. */
  firstCommit?: CommitPoint;
  lastCommit?: CommitPoint;
  /** Lowest and highest xid committed in the segment (decimal 64-bit), as commit order is not xid order. */
  xids?: { min: string; max: string };
  /** Uncompressed record bytes, and the stored document's compressed payload bytes. */
  bytes: number;
  storedBytes: number;
  /** Repository key of the segment document. */
  key: string;
  sealedAt?: string;
}

export interface SegmentCatalog {
  /**
   * Records a segment. Idempotent: the identical record again succeeds (an archiver rerun);
   * another record at the same place (collection, chain, afterLsn, part) is a
   * `CatalogConflictError`, as the repository refuses two archivers' segments at one place.
   */
  recordSegment(record: SegmentRecord): Promise<void>;

  /**
   * The collection's segment records (only `chain`'s when given) in LSN order: by chain, then
   * afterLsn, then part. May lag behind recent writes (DynamoDB: an eventually consistent index);
   * an empty list for an unknown collection.
   */
  listSegments(collection: string, chain?: string): Promise<SegmentRecord[]>;

  /**
   * The collection's last segment record in LSN order, or `undefined` when it has none: where the
   * archiver starts listing the repository, at a cost that does not grow with the archive
   * (DynamoDB: one Query of one item). May lag behind recent writes, like `listSegments`.
   */
  lastSegment(collection: string): Promise<SegmentRecord | undefined>;
}
