// `pitr archive`: drains the collection's slot into change segments until it has caught up
// (FORMAT.md, "Point-in-time recovery"). The repository is the source of truth for where the
// archive ends: the slot is first moved there, so a run that died after writing a segment and
// before advancing the slot writes nothing twice, and a transaction a dead run had begun to
// spill continues in the next part. Write order: segment, catalog record (`onSegment`), then the
// slot's advance. Finding that end costs the same however long the chain is (archive-tail.ts).
import type { ChangeRecord, ChangeStream, SlotState } from '../ports/change-stream.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import type { SqlSession } from '../ports/database.ts';
import { IntegrityError, TidemarkError } from '../errors.ts';
import { DDL_MESSAGE_PREFIX, pitrNames } from './names.ts';
import { compareLsn } from './lsn.ts';
import { chainLsn } from './chain.ts';
import {
  sealSegment,
  writeSegment,
  type ChainGap,
  type ChangeSegment,
  type CommitPoint,
  type SegmentSource,
} from './segment.ts';
import { archiveTail, type SegmentSink } from './archive-tail.ts';
import { startChain } from './enable.ts';

/** The archive cannot continue its chain (slot gone, lost or recreated; new timeline; another cluster) and was given no session to start a new one. */
export class ChangeArchiveGapError extends TidemarkError {}
/** The collection has no change archive. */
export class PitrNotEnabledError extends TidemarkError {}

export interface ArchiveOptions {
  /** Uncompressed record bytes after which a segment is closed, even inside a transaction. */
  segmentBytes?: number;
  /** Drain passes at most: a source that writes faster than this drains is left for the next run. */
  maxPasses?: number;
  /**
   * Called with each segment once it is in the repository, before the slot moves past it: the
   * catalog record. With its catalog (`records`), listing the repository starts at the last record.
   */
  onSegment?: SegmentSink;
  /**
   * A session on the source. With it, a gap (slot dropped, lost or recreated; the source on a new
   * timeline or another cluster) starts a new chain
   * by itself (new slot, DDL capture, opening segment recording the gap); without it a gap is a
   * ChangeArchiveGapError. Either way the new chain needs a base backup, which the caller takes.
   */
  session?: SqlSession;
  /** Ends the run with a heartbeat (default true): `pitr archive --follow` sends one only now and then. */
  heartbeat?: boolean;
  /** Stops after the drain pass under way (what it has is sealed): `--follow` stopping on a signal. */
  signal?: AbortSignal;
}

export interface ArchiveResult {
  chain: string;
  segments: number;
  transactions: number;
  changes: number;
  /** Commit end of the last archived transaction. */
  endLsn: string;
  lastCommit?: CommitPoint;
  /** Set when this run found a gap and started `chain` after it: take the new chain's base backup now. */
  gap?: ChainGap & { chain: string; startLsn: string };
}

export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;
const HEARTBEAT_POLLS = 10;
const HEARTBEAT_POLL_MS = 150;

export async function archiveChanges(
  stream: ChangeStream,
  storage: RepositoryStorage,
  collection: string,
  options: ArchiveOptions = {},
): Promise<ArchiveResult> {
  const names = pitrNames(collection);
  const records = options.onSegment?.records;
  let tail = await archiveTail(storage, collection, records);
  if (!tail)
    throw new PitrNotEnabledError(
      `Collection ${collection} has no change archive in the repository. Run \`tidemark pitr enable --collection ${collection}\` first.`,
    );
  let chain = tail.chain;
  const slot = await stream.slotState(names.slot);
  // Only this archiver advances the slot, and never past what the repository holds: a slot
  // confirmed past the archive's end was recreated (or read by something else). A slot on
  // another cluster or WAL timeline than the chain's may have survived a failover or a restore
  // of the source, but what the chain archived may not have happened there.
  const moved = slot && sourceMoved(tail.last.source, slot.source);
  const reason: ChainGap['reason'] | undefined = !slot
    ? 'slot-dropped'
    : moved
      ? moved.reason
      : slot.walStatus === 'lost'
        ? 'slot-lost'
        : compareLsn(slot.confirmedLsn, tail.last.endLsn) > 0
          ? 'slot-recreated'
          : undefined;
  let gap: ArchiveResult['gap'];
  if (reason) {
    const previous: ChainGap = {
      reason,
      previousChain: chain,
      previousEndLsn: tail.last.endLsn,
      ...withLastCommit(await tail.lastCommit()),
      ...(moved ? moved.fields : {}),
      detectedAt: new Date().toISOString(),
    };
    if (!options.session) throw gapError(collection, names.slot, previous, slot?.confirmedLsn);
    await refuseChainBehind(options.session, collection, names.slot, previous, slot?.confirmedLsn);
    // The old slot cannot continue the chain: a new slot, DDL capture and chain, as enable makes them.
    if (slot) await stream.dropSlot(names.slot);
    const started = await startChain(options.session, stream, storage, collection, previous);
    gap = { ...previous, chain: started.chain, startLsn: started.startLsn };
    chain = started.chain;
    // Listed whole (its opening segment only), which records that segment in the catalog.
    tail = (await archiveTail(storage, collection, records, chain))!;
  }
  const writer = new SegmentWriter(
    stream,
    storage,
    tail.last,
    // A chain written before timelines were recorded records its timeline from here on.
    gap ? tail.last.source : withTimeline(tail.last.source, slot),
    options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
    options.onSegment,
  );
  // Whatever the slot still holds at or before the archive's end is in the repository already.
  await stream.advance(names.slot, tail.last.endLsn);
  let skip = tail.openRecords;
  const result: ArchiveResult = {
    chain,
    ...(gap ? { gap } : {}),
    segments: 0,
    transactions: 0,
    changes: 0,
    endLsn: tail.last.endLsn,
    ...(tail.last.lastCommit ? { lastCommit: tail.last.lastCommit } : {}),
  };
  const drain = async (): Promise<{ heartbeats: number }> => {
    let heartbeats = 0;
    for await (const record of stream.peek(names.slot)) {
      if (record.k === 'H') {
        heartbeats++;
        writer.position(record.lsn);
        continue;
      }
      if (skip > 0) {
        if (skip === tail.openRecords && (record.k !== 'B' || record.xid !== tail.openXid)) {
          throw new IntegrityError(
            `Collection ${collection}: the archive ends inside transaction ${tail.openXid}, but the slot resumes with ${record.k === 'B' ? `transaction ${record.xid}` : 'a change'}. The chain cannot be continued exactly; start a new one (pitr disable, pitr enable).`,
          );
        }
        skip--;
        writer.resume(record);
        continue;
      }
      if (record.k === 'M' && record.prefix !== DDL_MESSAGE_PREFIX) continue;
      await writer.add(record);
    }
    await writer.flush();
    return { heartbeats };
  };
  for (let pass = 0; pass < (options.maxPasses ?? 10); pass++) {
    const before = writer.totals.transactions;
    await drain();
    if (writer.totals.transactions === before || options.signal?.aborted) break;
  }
  if (options.heartbeat === false) return { ...result, ...writer.totals, ...writerEnd(writer) };
  // A heartbeat lets the slot move on while this database is idle (other databases' WAL is then
  // recycled). It reaches the stream once the WAL writer has flushed it: wait for it briefly; a
  // later run picks up one that came too late.
  await stream.heartbeat();
  for (let wait = 0; wait < HEARTBEAT_POLLS; wait++) {
    if ((await drain()).heartbeats > 0) break;
    await new Promise((r) => setTimeout(r, HEARTBEAT_POLL_MS));
  }
  return { ...result, ...writer.totals, ...writerEnd(writer) };
}

function writerEnd(writer: SegmentWriter): Pick<ArchiveResult, 'endLsn' | 'lastCommit'> {
  return { endLsn: writer.endLsn, ...(writer.lastCommit ? { lastCommit: writer.lastCommit } : {}) };
}

/**
 * The source the slot is on is not the one the chain was archived from: another cluster, or
 * another WAL timeline (a promoted standby, a point-in-time recovery). Compared only where both
 * sides are known: a chain written before timelines were recorded is no gap for lacking one.
 */
function sourceMoved(
  recorded: SegmentSource,
  now: SlotState['source'],
): { reason: 'source-replaced' | 'timeline-changed'; fields: Partial<ChainGap> } | undefined {
  if (recorded.systemIdentifier && now.systemIdentifier && recorded.systemIdentifier !== now.systemIdentifier)
    return {
      reason: 'source-replaced',
      fields: { previousSystemIdentifier: recorded.systemIdentifier, systemIdentifier: now.systemIdentifier },
    };
  if (recorded.timeline && now.timeline && recorded.timeline !== now.timeline)
    return { reason: 'timeline-changed', fields: { previousTimeline: recorded.timeline, timeline: now.timeline } };
  return undefined;
}

/**
 * Chains are ordered by their start LSN (key order is commit order), so a new chain must begin
 * past the start of the one it follows. A source replaced by another cluster, or restored to a
 * point before that chain began, is behind it: refused before anything changes, slot included.
 */
async function refuseChainBehind(
  session: SqlSession,
  collection: string,
  slot: string,
  gap: ChainGap,
  confirmed?: string,
): Promise<void> {
  const [row] = await session.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
  const start = chainLsn(gap.previousChain);
  if (compareLsn(row!.lsn, start) > 0) return;
  throw new ChangeArchiveGapError(
    `${gapSentence(collection, slot, gap, confirmed)} A new chain cannot follow it: the source's WAL position ${row!.lsn} is not past ${start}, where chain ${gap.previousChain} began, and chains are ordered by their start. ` +
      `Nothing was changed. Archive this source into a new collection (\`tidemark collection create\`, \`tidemark pitr enable\`); this one stays restorable up to ${gap.previousLastCommit?.time ?? gap.previousEndLsn}.`,
  );
}

function withTimeline(source: SegmentSource, slot: SlotState | undefined): SegmentSource {
  return slot?.source.timeline ? { ...source, timeline: slot.source.timeline } : source;
}

function gapError(collection: string, slot: string, gap: ChainGap, confirmed?: string): ChangeArchiveGapError {
  return new ChangeArchiveGapError(
    `${gapSentence(collection, slot, gap, confirmed)} Run \`tidemark pitr archive --collection ${collection}\`, which starts a new chain and its base backup.`,
  );
}

function gapSentence(collection: string, slot: string, gap: ChainGap, confirmed?: string): string {
  const what =
    gap.reason === 'slot-dropped'
      ? 'is gone'
      : gap.reason === 'slot-lost'
        ? 'is lost (its WAL was removed)'
        : gap.reason === 'timeline-changed'
          ? `is on WAL timeline ${gap.timeline} of the source, not ${gap.previousTimeline} where the chain was archived (a failover, promotion or point-in-time recovery): transactions the chain holds may not exist there`
          : gap.reason === 'source-replaced'
            ? `is on another cluster (system identifier ${gap.systemIdentifier}, not ${gap.previousSystemIdentifier}): the source was replaced`
            : `is confirmed up to ${confirmed}, past the archive's end: it was recreated or read by something else`;
  return (
    `Collection ${collection}: slot ${slot} ${what}, so the change archive cannot continue past ${gap.previousEndLsn} ` +
    `(${gap.previousLastCommit?.time ?? 'its start'}).`
  );
}

function withLastCommit(lastCommit: CommitPoint | undefined): { previousLastCommit?: CommitPoint } {
  return lastCommit ? { previousLastCommit: lastCommit } : {};
}

class SegmentWriter {
  totals = { segments: 0, transactions: 0, changes: 0 };
  lastCommit?: CommitPoint;
  private records: string[] = [];
  private bytes = 0;
  private inTransaction = false;
  private afterLsn: string;
  private part: number;
  /** Where the archive ends: the last whole transaction's commit end, or a later heartbeat. */
  endLsn: string;
  private segment = {
    transactions: 0,
    changes: 0,
    first: undefined as CommitPoint | undefined,
    last: undefined as CommitPoint | undefined,
    /** Lowest and highest xid committed in the segment (commit order is not xid order). */
    xids: undefined as { min: bigint; max: bigint } | undefined,
  };

  constructor(
    private readonly stream: ChangeStream,
    private readonly storage: RepositoryStorage,
    private readonly previous: ChangeSegment,
    /** What the segments it writes record as their source: the timeline is the one this run checked. */
    private readonly source: SegmentSource,
    private readonly segmentBytes: number,
    private readonly onSegment?: SegmentSink,
  ) {
    this.afterLsn = previous.endLsn;
    this.part = previous.afterLsn === previous.endLsn ? previous.part + 1 : 0;
    this.endLsn = previous.endLsn;
    this.inTransaction = previous.openAtEnd;
  }

  /** A heartbeat: no transaction commits between the archive's end and `lsn`. */
  position(lsn: string): void {
    if (!this.inTransaction && compareLsn(lsn, this.endLsn) > 0) this.endLsn = lsn;
  }

  /** A record an earlier run archived already (the start of a spilled transaction). */
  resume(record: ChangeRecord): void {
    if (record.k === 'B') this.inTransaction = true;
  }

  async add(record: ChangeRecord): Promise<void> {
    const line = JSON.stringify(record);
    this.records.push(line);
    this.bytes += line.length + 1;
    if (record.k === 'B') this.inTransaction = true;
    else if (record.k === 'C') {
      this.inTransaction = false;
      const point = { xid: record.xid, lsn: record.lsn, time: record.time };
      this.segment.first ??= point;
      this.segment.last = point;
      this.segment.transactions++;
      const xid = BigInt(record.xid);
      const range = this.segment.xids;
      this.segment.xids = range
        ? { min: xid < range.min ? xid : range.min, max: xid > range.max ? xid : range.max }
        : { min: xid, max: xid };
      this.endLsn = record.lsn;
    } else if (record.k !== 'M') this.segment.changes++;
    if (this.bytes >= this.segmentBytes) await this.flush();
  }

  /** Seals and writes the records so far, then confirms the slot up to the last whole transaction. */
  async flush(): Promise<void> {
    // A segment without records still moves the archive's end after a heartbeat.
    if (!this.records.length && this.endLsn === this.afterLsn) return;
    const { collection, chain, slot } = this.previous;
    const source = this.source;
    const { first, last, transactions, changes, xids } = this.segment;
    const segment = await sealSegment(
      {
        collection,
        chain,
        afterLsn: this.afterLsn,
        part: this.part,
        slot,
        source,
        endLsn: this.endLsn,
        openAtEnd: this.inTransaction,
        transactions,
        changes,
        sealedAt: new Date().toISOString(),
        ...(first ? { firstCommit: first } : {}),
        ...(last ? { lastCommit: last } : {}),
      },
      this.records,
    );
    await writeSegment(this.storage, segment);
    // The sink is given the xids the writer saw, so the catalog record costs no second decompression.
    await this.onSegment?.(segment, xids ? [xids.min.toString(), xids.max.toString()] : []);
    if (compareLsn(this.endLsn, this.afterLsn) > 0) await this.stream.advance(slot, this.endLsn);
    this.totals.segments++;
    this.totals.transactions += transactions;
    this.totals.changes += changes;
    if (last) this.lastCommit = last;
    this.part = this.afterLsn === this.endLsn ? this.part + 1 : 0;
    this.afterLsn = this.endLsn;
    this.records = [];
    this.bytes = 0;
    this.segment = { transactions: 0, changes: 0, first: undefined, last: undefined, xids: undefined };
  }
}
