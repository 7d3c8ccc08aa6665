// Change segments: sealed, compressed pieces of a collection's change archive (FORMAT.md,
// "Point-in-time recovery"). Records are newline-separated JSON, compressed with zstd, carried
// base64 inside a sealed `tidemark-segment` document so the document registry checks it like
// every other document (and garbage collection, which sweeps chunks/, never touches it).
import { createHash } from 'node:crypto';
import type { ChangeRecord } from '../ports/change-stream.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { segmentKind } from '../repository/document-formats.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { zstd } from '../repository/zstd.ts';
import { IntegrityError } from '../errors.ts';

export interface CommitPoint {
  /** 64-bit txid, decimal. */
  xid: string;
  /** End of the commit record. */
  lsn: string;
  /** ISO-8601 UTC with microseconds. */
  time: string;
}

export interface SegmentSource {
  /** Decimal, or '' where the archiver's role may not read it. */
  systemIdentifier: string;
  database: string;
  serverVersionNum: number;
  /**
   * The source's WAL timeline (8 hex digits) when the segment was written: a chain continues only
   * on the timeline it was archived from. Absent in segments written before it was recorded.
   */
  timeline?: string;
}

/** Why a chain began where another one ended (FORMAT.md, "Point-in-time recovery"): kept in its opening segment. */
export interface ChainGap {
  reason: GapReason;
  /** The chain before the gap, and where its archive ends: nothing between that and this chain's start is restorable. */
  previousChain: string;
  previousEndLsn: string;
  previousLastCommit?: CommitPoint;
  /** For `timeline-changed` and `source-replaced`: what the previous chain recorded, and what the source is now. */
  previousTimeline?: string;
  timeline?: string;
  previousSystemIdentifier?: string;
  systemIdentifier?: string;
  detectedAt: string;
}

/**
 * `timeline-changed`: the source is on another WAL timeline than the chain (a failover, promotion
 * or point-in-time recovery of the source); `source-replaced`: another cluster (system identifier)
 * holds a slot of that name. Either way transactions the chain archived may not exist there.
 */
export type GapReason = 'slot-dropped' | 'slot-lost' | 'slot-recreated' | 'timeline-changed' | 'source-replaced';

export interface ChangeSegment {
  collection: string;
  /** The slot's consistent point when the chain began, as 16 hex digits. */
  chain: string;
  /** Commit end of the last whole transaction before this segment's first record (or the chain start). */
  afterLsn: string;
  /** Counts the segments that share `afterLsn` (a large transaction spills into parts). */
  part: number;
  slot: string;
  source: SegmentSource;
  /** The archive's end after this segment: its last whole transaction's commit end or a later heartbeat, else `afterLsn`. */
  endLsn: string;
  /** Its last transaction continues in the next segment. */
  openAtEnd: boolean;
  transactions: number;
  changes: number;
  firstCommit?: CommitPoint;
  lastCommit?: CommitPoint;
  /** When the archiver sealed it (ISO-8601), for the archive's age in `pitr status`. */
  sealedAt?: string;
  /** In a chain's opening segment: the gap before it, when the archiver started the chain itself. */
  gap?: ChainGap;
  payload: { codec: 'zstd'; sha256: string; bytes: number; data: string };
}

export type SegmentHeader = Omit<ChangeSegment, 'payload'>;

const ZSTD_LEVEL = 3;

export async function sealSegment(header: SegmentHeader, records: string[]): Promise<ChangeSegment> {
  const raw = Buffer.from(records.length ? records.join('\n') + '\n' : '', 'utf8');
  const compressed = await zstd().compress(raw, ZSTD_LEVEL);
  return {
    ...header,
    payload: {
      codec: 'zstd',
      sha256: createHash('sha256').update(raw).digest('hex'),
      bytes: raw.length,
      data: compressed.toString('base64'),
    },
  };
}

/**
 * Writes the segment unless its key holds one. A rerun from the same point writes the same
 * records, so a segment already there with other records means another archiver is writing
 * this chain: refused, before the slot moves, so the chain stays whole.
 */
export async function writeSegment(storage: RepositoryStorage, segment: ChangeSegment): Promise<void> {
  if (await writeDocument(storage, segmentKind, placeOf(segment), segment)) return;
  const stored = await readSegment(storage, placeOf(segment));
  if (
    stored.payload.sha256 !== segment.payload.sha256 ||
    stored.endLsn !== segment.endLsn ||
    stored.openAtEnd !== segment.openAtEnd
  ) {
    throw new ConcurrentArchiverError(
      `Change segment ${describeSegment(segment)} exists with other records: another archiver of collection ${segment.collection} is writing this chain. ` +
        'This run stopped without moving the slot; run one archiver per collection at a time.',
    );
  }
}

/** Two archivers drained one chain at once; the one that finds the other's segment stops. */
export class ConcurrentArchiverError extends IntegrityError {}

export async function readSegment(
  storage: RepositoryStorage,
  place: { collection: string; chain: string; afterLsn: string; part: number },
): Promise<ChangeSegment> {
  return readDocument(storage, segmentKind, place);
}

/** The segment's records, checked against its payload hash. */
export async function segmentRecords(segment: ChangeSegment): Promise<ChangeRecord[]> {
  const raw = await zstd().decompress(Buffer.from(segment.payload.data, 'base64'));
  const digest = createHash('sha256').update(raw).digest('hex');
  if (raw.length !== segment.payload.bytes || digest !== segment.payload.sha256) {
    throw new IntegrityError(
      `Change segment ${describeSegment(segment)}: its records fail their checksum. The segment is damaged; the archive cannot be replayed past ${segment.afterLsn}.`,
    );
  }
  const text = raw.toString('utf8');
  // A cast, not a schema: the payload's hash is in the MAC-covered header, so these lines are the
  // archiver's own; a per-record schema would cost the replay's hot path millions of checks.
  return text
    ? text
        .slice(0, -1)
        .split('\n')
        .map((line) => JSON.parse(line) as ChangeRecord)
    : [];
}

export function placeOf(s: Pick<ChangeSegment, 'collection' | 'chain' | 'afterLsn' | 'part'>) {
  return { collection: s.collection, chain: s.chain, afterLsn: s.afterLsn, part: s.part };
}

export function describeSegment(s: Pick<ChangeSegment, 'collection' | 'chain' | 'afterLsn' | 'part'>): string {
  return `${s.collection}/${s.chain} after ${s.afterLsn} part ${s.part}`;
}
