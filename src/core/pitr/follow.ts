// `pitr archive --follow`: drains the slot every `segmentSeconds`, so a commit is in a sealed
// segment at most about that long after it commits (plus one drain), until `signal` aborts; then
// one last drain seals what has committed meanwhile. Each drain is an `archiveChanges` run, with
// its write order (segment, then the slot's advance) and its handling of gaps.
//
// An idle source writes nothing the slot could move to: every `heartbeatSeconds` a drain ends
// with a heartbeat, which confirms the slot past the WAL other databases wrote, so the server
// can recycle it (its restart point follows at the next record of running transactions).
import type { ChangeStream } from '../ports/change-stream.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { archiveChanges, type ArchiveOptions, type ArchiveResult } from './archive.ts';

export interface FollowOptions extends ArchiveOptions {
  /** A segment is sealed at least this often while commits arrive (default 30). */
  segmentSeconds?: number;
  /** An idle source gets a heartbeat this often (default 60). */
  heartbeatSeconds?: number;
  /** Ends the follow: the drain under way finishes, one more seals what committed before the signal. */
  signal: AbortSignal;
  /** After each drain: a gap's new chain needs its base backup (the caller's runtime takes it). */
  onDrain?(result: ArchiveResult): Promise<void>;
}

export interface FollowResult {
  drains: number;
  segments: number;
  transactions: number;
  changes: number;
  endLsn: string;
  /** Chains started after gaps while following. */
  gaps: number;
}

export async function followChanges(
  stream: ChangeStream,
  storage: RepositoryStorage,
  collection: string,
  options: FollowOptions,
): Promise<FollowResult> {
  const { segmentSeconds = 30, heartbeatSeconds = 60, signal, onDrain, ...archive } = options;
  const total: FollowResult = { drains: 0, segments: 0, transactions: 0, changes: 0, endLsn: '', gaps: 0 };
  let lastHeartbeat = 0;
  for (let stopping = false; ; ) {
    stopping = signal.aborted;
    const started = Date.now();
    const heartbeat = started - lastHeartbeat >= heartbeatSeconds * 1000;
    // The last drain runs to the end: the signal is not passed on to it.
    const result = await archiveChanges(stream, storage, collection, {
      ...archive,
      heartbeat,
      ...(stopping ? {} : { signal }),
    });
    if (heartbeat) lastHeartbeat = started;
    total.drains++;
    total.segments += result.segments;
    total.transactions += result.transactions;
    total.changes += result.changes;
    total.endLsn = result.endLsn;
    if (result.gap) total.gaps++;
    await onDrain?.(result);
    if (stopping) return total;
    await sleep(segmentSeconds * 1000 - (Date.now() - started), signal);
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
