// Step "Archive" of the archive state machine (state-machines/archive.asl.json), which a
// schedule starts every minute per PITR collection: under the slot's drainer lease, drain the
// slot into segments until caught up or for `drainSeconds`, recording each segment in the
// catalog between the segment and the slot's advance (segment → catalog record → slot). A gap
// (slot dropped, lost, recreated) starts a new chain by itself; the output says so, and the
// machine publishes ChangeArchiveGap, which starts the new chain's base backup.
// The change stream is an adapter (src/adapters/postgres/logical-stream.ts), so the handler
// gives it: `archiveStepWith` builds the step around it.
import type { TaskContext } from '../task-context.ts';
import type { SqlSession } from '../ports/database.ts';
import type { ChangeStream } from '../ports/change-stream.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';
import { archiveChanges, type ArchiveResult } from '../pitr/archive.ts';
import { pitrNames } from '../pitr/names.ts';
import { segmentRecorder } from './segment-recorder.ts';
import { ARCHIVE_TASK_TIMEOUT_SECONDS, type ArchiveRunInput } from './archive-input.ts';
import { takeArchiveLease } from './archive-lease.ts';

/** Where the figures go: CloudWatch metrics in AWS (functions/pitr-archive.ts), nowhere locally. */
export interface ArchiveFigures {
  /** A segment recorded; `lagSeconds`: from its last commit to its sealing. */
  segment(record: SegmentRecord, lagSeconds: number | undefined): void;
  /** The run's output: the slot's retained WAL and wal_status after it, and a gap it found. */
  run(output: ArchiveStepOutput): void;
}

export interface ArchiveStepDeps {
  changeStream(session: SqlSession): ChangeStream;
  figures?: ArchiveFigures;
}

export interface ArchiveStepOutput {
  collection: string;
  /** Another run holds the drainer lease: this one did nothing (not a failure). */
  skipped?: string;
  chain?: string;
  segments: number;
  transactions: number;
  changes: number;
  /** Uncompressed record bytes, and compressed bytes stored, of the segments written. */
  bytes: number;
  storedBytes: number;
  endLsn?: string;
  lastCommitTime?: string;
  /** The last pass found nothing new: the archive holds every commit the slot had. */
  caughtUp: boolean;
  retainedBytes?: number;
  walStatus?: string | null;
  /** This run found a gap and started `chain` after it: the new chain needs a base backup. */
  gap?: ArchiveResult['gap'];
}

export function archiveStepWith(deps: ArchiveStepDeps) {
  return async function archiveStep(input: ArchiveRunInput, ctx: TaskContext): Promise<ArchiveStepOutput> {
    const { collection } = input;
    const started = Date.now();
    const empty = { collection, segments: 0, transactions: 0, changes: 0, bytes: 0, storedBytes: 0 };
    const lease = await takeArchiveLease(ctx.catalog, collection, ARCHIVE_TASK_TIMEOUT_SECONDS);
    if ('heldBy' in lease) {
      return {
        ...empty,
        caughtUp: false,
        skipped: `Another run drains collection ${collection} (since ${lease.heldBy.acquiredAt}, until ${lease.heldBy.expiresAt} at the latest); it continues the archive.`,
      };
    }
    try {
      return await withSessions(ctx, input, async (session, streamSession) => {
        const stream = deps.changeStream(streamSession);
        const out: ArchiveStepOutput = { ...empty, caughtUp: false };
        const onSegment = segmentRecorder(ctx.catalog, (entry) => {
          out.bytes += entry.bytes;
          out.storedBytes += entry.storedBytes;
          deps.figures?.segment(entry, lagSeconds(entry));
        });
        const options = {
          maxPasses: 1,
          session,
          onSegment,
          ...(input.segmentBytes ? { segmentBytes: input.segmentBytes } : {}),
        };
        const deadline = started + input.drainSeconds * 1000;
        for (;;) {
          const result = await archiveChanges(stream, ctx.storage, collection, options);
          out.gap ??= result.gap;
          out.chain = result.chain;
          out.segments += result.segments;
          out.transactions += result.transactions;
          out.changes += result.changes;
          out.endLsn = result.endLsn;
          if (result.lastCommit) out.lastCommitTime = result.lastCommit.time;
          if (result.transactions === 0) {
            out.caughtUp = true;
            break;
          }
          if (Date.now() >= deadline) break;
        }
        const slot = await stream.slotState(pitrNames(collection).slot);
        const output = { ...out, ...(slot ? { retainedBytes: slot.retainedBytes, walStatus: slot.walStatus } : {}) };
        deps.figures?.run(output);
        return output;
      });
    } finally {
      await ctx.catalog.releaseLease(lease.held.name, lease.held.owner);
    }
  };
}

function lagSeconds(entry: SegmentRecord): number | undefined {
  if (!entry.lastCommit || !entry.sealedAt) return undefined;
  return Math.max(0, (Date.parse(entry.sealedAt) - Date.parse(entry.lastCommit.time)) / 1000);
}

/** Two sessions on the source: the stream's own (peek holds a transaction open) and one for a new chain. */
async function withSessions<T>(
  ctx: TaskContext,
  input: ArchiveRunInput,
  fn: (session: SqlSession, streamSession: SqlSession) => Promise<T>,
): Promise<T> {
  const session = await ctx.databases.connect(input.source, { applicationName: 'tidemark pitr' });
  try {
    const streamSession = await ctx.databases.connect(input.source, { applicationName: 'tidemark archiver' });
    try {
      return await fn(session, streamSession);
    } finally {
      await streamSession.close();
    }
  } finally {
    await session.close();
  }
}
