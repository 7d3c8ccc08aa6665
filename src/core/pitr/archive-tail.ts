// Where a collection's change archive ends, at a cost that does not grow with the chain: the
// listing starts at the last segment the catalog records (chain.ts archiveEnd; a hint, the
// repository decides), a segment past it that the catalog lacks (a run died between writing and
// recording it, or the opening segment of a new chain) is recorded first, and the walk back
// over an unfinished transaction steps by key where it can.
import type { RepositoryStorage } from '../ports/storage.ts';
import { IntegrityError } from '../errors.ts';
import { archiveEnd, listChain, placeKey, type SegmentPlace } from './chain.ts';
import { readSegment, segmentRecords, type ChangeSegment, type CommitPoint } from './segment.ts';

/** Where the archive hands each segment it writes: the catalog (pipelines/segment-recorder.ts). */
export interface SegmentSink {
  /**
   * `committedXids`: the xids (decimal) whose lowest and highest the segment's record keeps, when
   * its writer has them; without them the sink reads them from the segment's records.
   */
  (segment: ChangeSegment, committedXids?: Iterable<string>): Promise<void>;
  /** The catalog behind the sink, when it has one. */
  readonly records?: SegmentRecords;
}

export interface SegmentRecords {
  /** The collection's last recorded segment: a hint, which may lag behind or be missing. */
  last(collection: string): Promise<SegmentPlace | undefined>;
  /** Records a segment an earlier run wrote; idempotent. */
  record(segment: ChangeSegment): Promise<void>;
}

export interface ArchiveTail {
  chain: string;
  last: ChangeSegment;
  /** Records of the unfinished transaction the archive ends in (already archived), and its xid. */
  openRecords: number;
  openXid?: string;
  /** The last archived commit of the chain, read backwards from its end. */
  lastCommit(): Promise<CommitPoint | undefined>;
}

/** The tail of the collection's last chain (only of `chain` when given), or undefined when it has none. */
export async function archiveTail(
  storage: RepositoryStorage,
  collection: string,
  records?: SegmentRecords,
  chain?: string,
): Promise<ArchiveTail | undefined> {
  const listed = chain
    ? { chain, places: await listChain(storage, collection, chain), whole: true }
    : await archiveEnd(storage, collection, await records?.last(collection));
  if (!listed?.places.length) return undefined;
  const read = cachedReader(storage);
  if (records) {
    // Past the catalog's last record (the first place, unless the chain is listed whole).
    for (const place of listed.whole ? listed.places : listed.places.slice(1)) await records.record(await read(place));
  }
  const walk = new Backwards(storage, collection, listed, read);
  const last = await read(listed.places.at(-1)!);
  // The unfinished transaction's segments: back to the one that holds its first record (after
  // a commit in it, or at its start).
  const segments = [last];
  const begins = async (s: ChangeSegment) => s.transactions > 0 || (await segmentRecords(s))[0]?.k === 'B';
  if (last.openAtEnd && !(await begins(last))) {
    for (let s = await walk.before(last); s?.openAtEnd; s = await walk.before(s)) {
      segments.unshift(s);
      if (await begins(s)) break;
    }
  }
  if (listed.whole && listed.places.length === 1 && last.part !== 0)
    throw new IntegrityError(
      `Chain ${collection}/${listed.chain} does not begin with its opening segment; start a new chain (pitr disable, pitr enable).`,
    );
  let openRecords = 0;
  let openXid: string | undefined;
  if (last.openAtEnd) {
    for (const s of segments) {
      const records = await segmentRecords(s);
      const lastCommit = records.map((r) => r.k).lastIndexOf('C');
      const open = records.slice(lastCommit + 1);
      if (lastCommit >= 0 || s === segments[0]) openRecords = 0;
      if (open[0]?.k === 'B') openXid = open[0].xid;
      openRecords += open.length;
    }
  }
  return {
    chain: listed.chain,
    last,
    openRecords,
    ...(openXid ? { openXid } : {}),
    async lastCommit() {
      for (let s: ChangeSegment | undefined = last; s; s = await walk.before(s)) if (s.lastCommit) return s.lastCommit;
      return undefined;
    },
  };
}

function cachedReader(storage: RepositoryStorage): (place: SegmentPlace) => Promise<ChangeSegment> {
  const read = new Map<string, Promise<ChangeSegment>>();
  return (place) => {
    const key = placeKey(place);
    if (!read.has(key)) read.set(key, readSegment(storage, place));
    return read.get(key)!;
  };
}

/** Steps back from a segment of a chain listed from some segment on. */
class Backwards {
  private places: SegmentPlace[];
  private whole: boolean;

  constructor(
    private readonly storage: RepositoryStorage,
    private readonly collection: string,
    listed: { chain: string; places: SegmentPlace[]; whole: boolean },
    private readonly read: (place: SegmentPlace) => Promise<ChangeSegment>,
  ) {
    this.places = listed.places;
    this.whole = listed.whole;
  }

  /** The segment before `segment` in its chain, or undefined at the chain's start. */
  async before(segment: ChangeSegment): Promise<ChangeSegment | undefined> {
    const key = placeKey(segment);
    let i = this.places.findIndex((p) => placeKey(p) === key);
    if (i > 0) return this.read(this.places[i - 1]!);
    // Before what was listed: a later part of one afterLsn follows the part before it, by key;
    // the segment before a first part ends at its afterLsn, which only the whole chain tells
    // (once, after a run died inside a transaction that began before the catalog's last record).
    if (i <= 0 && !this.whole && segment.part > 0) return this.read({ ...segment, part: segment.part - 1 });
    if (this.whole) return undefined;
    this.places = await listChain(this.storage, this.collection, segment.chain);
    this.whole = true;
    i = this.places.findIndex((p) => placeKey(p) === key);
    return i > 0 ? this.read(this.places[i - 1]!) : undefined;
  }
}
