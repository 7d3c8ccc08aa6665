// Resolves a restore target to the archived commit it ends at, or refuses it naming the nearest
// reachable points (invariant 13).
import type { RepositoryStorage } from '../ports/storage.ts';
import { RestoreTargetError } from '../errors.ts';
import type { SegmentPlace } from './chain.ts';
import { compareLsn } from './lsn.ts';
import { chainRecords } from './replay.ts';
import { readSegment, segmentRecords, type CommitPoint } from './segment.ts';
import { isoMicros, type PitrTarget } from './target.ts';

export function describeTarget(t: PitrTarget): string {
  return t.kind === 'latest'
    ? 'latest'
    : t.kind === 'lsn'
      ? `lsn:${t.lsn}`
      : t.kind === 'xid'
        ? `xid:${t.xid}`
        : t.text;
}

export async function resolvePoint(
  storage: RepositoryStorage,
  places: SegmentPlace[],
  target: PitrTarget,
): Promise<{ point: CommitPoint }> {
  if (target.kind === 'latest' || target.kind === 'lsn') {
    const point = await fromTheEnd(storage, places, target);
    if (point) return { point };
  }
  return scanChain(storage, places, target);
}

/**
 * `latest` and `lsn:` targets, from the chain's end backwards by the segments' authenticated
 * headers (their first and last commit), so a target near the end reads a segment or two, not
 * the whole chain: commits are in LSN order across segments. Undefined when the target is before
 * the chain's first commit or after its last (scanChain then refuses it with both ends).
 */
async function fromTheEnd(
  storage: RepositoryStorage,
  places: SegmentPlace[],
  target: Extract<PitrTarget, { kind: 'latest' | 'lsn' }>,
): Promise<CommitPoint | undefined> {
  let newest: CommitPoint | undefined;
  for (let i = places.length - 1; i >= 0; i--) {
    const segment = await readSegment(storage, places[i]!);
    if (!segment.lastCommit) continue;
    if (target.kind === 'latest') return segment.lastCommit;
    newest ??= segment.lastCommit;
    // After the last archived commit (unless exactly it): refused with the chain's ends.
    if (compareLsn(target.lsn, newest.lsn) > 0) return undefined;
    if (compareLsn(segment.firstCommit!.lsn, target.lsn) > 0) continue;
    // The point is this segment's last commit at or before the target.
    let point: CommitPoint | undefined;
    for (const record of await segmentRecords(segment)) {
      if (record.k !== 'C') continue;
      if (compareLsn(record.lsn, target.lsn) > 0) break;
      point = { xid: record.xid, lsn: record.lsn, time: record.time };
    }
    return point;
  }
  return undefined;
}

async function scanChain(
  storage: RepositoryStorage,
  places: SegmentPlace[],
  target: PitrTarget,
): Promise<{ point: CommitPoint }> {
  let first: CommitPoint | undefined;
  let previous: CommitPoint | undefined;
  let found: CommitPoint | undefined;
  for await (const { record } of chainRecords(storage, places)) {
    if (record.k !== 'C') continue;
    const point = { xid: record.xid, lsn: record.lsn, time: record.time };
    first ??= point;
    if (!found) {
      if (target.kind === 'xid' && point.xid === target.xid) found = point;
      if (target.kind === 'lsn' && compareLsn(point.lsn, target.lsn) > 0) found = previous ?? tooEarly(target, point);
      // PostgreSQL's rule: stop before the first commit, in commit order, later than the target.
      if (target.kind === 'time' && isoMicros(point.time)! > target.micros) found = previous ?? tooEarly(target, point);
    }
    previous = point;
  }
  if (!first || !previous)
    throw new RestoreTargetError(
      `The change archive holds no committed transaction yet, so ${describeTarget(target)} cannot be reached. Run \`tidemark pitr archive\`, or restore a backup.`,
    );
  const last = previous;
  if (!found) {
    const exact =
      target.kind === 'latest' ||
      (target.kind === 'lsn' && compareLsn(target.lsn, last.lsn) === 0) ||
      (target.kind === 'time' && isoMicros(last.time) === target.micros);
    if (!exact) {
      const what =
        target.kind === 'xid'
          ? `Transaction ${target.xid} is not in the change archive (it never committed, or commits after the last archived one)`
          : `${describeTarget(target)} is after the last archived commit`;
      throw new RestoreTargetError(
        `${what}. Reachable: from ${first.time} (xid:${first.xid}, lsn:${first.lsn}) to ${last.time} (xid:${last.xid}, lsn:${last.lsn}); run \`tidemark pitr archive\` to archive newer commits.`,
      );
    }
    found = last;
  }
  return { point: found };
}

function tooEarly(target: PitrTarget, first: CommitPoint): never {
  throw new RestoreTargetError(
    `${describeTarget(target)} is before the first archived commit, ${first.time} (xid:${first.xid}, lsn:${first.lsn}). Restore a backup taken before it, or choose a later target.`,
  );
}
