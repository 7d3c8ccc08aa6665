// Resolves a restore target to the archived commit it ends at, or refuses it naming the nearest
// reachable points (invariant 13).
import type { RepositoryStorage } from '../ports/storage.ts';
import { RestoreTargetError } from '../errors.ts';
import type { SegmentPlace } from './chain.ts';
import { compareLsn } from './lsn.ts';
import { chainRecords } from './replay.ts';
import type { CommitPoint } from './segment.ts';
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
): Promise<{ point: CommitPoint; first: CommitPoint; last: CommitPoint }> {
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
  return { point: found, first, last };
}

function tooEarly(target: PitrTarget, first: CommitPoint): never {
  throw new RestoreTargetError(
    `${describeTarget(target)} is before the first archived commit, ${first.time} (xid:${first.xid}, lsn:${first.lsn}). Restore a backup taken before it, or choose a later target.`,
  );
}
