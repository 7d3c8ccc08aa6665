// Step "HoldSnapshot": one coordinator session exports a snapshot and keeps its transaction open
// while the exporters read inside it; it ends when the exporters release it or at its deadline.
// In AWS this runs in a Lambda, whose 15-minute limit bounds the export window: the deadline
// (holdSeconds, at most 840 s there) ends the hold with SnapshotExpiredError, and exporters still
// running then fail clearly instead of reading an inconsistent state.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { layout } from '../repository/layout.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { snapshotKind, snapshotReleaseKind } from '../repository/document-formats.ts';
import { ObjectNotFoundError, SnapshotExpiredError, TransientError } from '../errors.ts';
import { reraise, type StepFailure } from '../failure.ts';
import { sleep } from '../retry.ts';

export interface SnapshotPoint {
  snapshotId: string;
  time: string;
  lsn: string | null;
}

export interface HoldSnapshotInput {
  backupId: string;
  source: DatabaseRef;
  holdSeconds: number;
}

/** A Lambda runs at most 15 minutes; the snapshot holder stops a minute before (infra/ and the cloud CLI use this too). */
export const LAMBDA_SNAPSHOT_HOLD_SECONDS = 840;

const POLL_MS = 100;
/** Keeps the session alive through proxies and NATs that drop idle connections. */
const KEEPALIVE_MS = 30_000;

export async function holdSnapshot(
  input: HoldSnapshotInput,
  ctx: TaskContext,
): Promise<{ held: true; seconds: number }> {
  const started = Date.now();
  const session = await ctx.databases.connect(input.source, { applicationName: 'tidemark snapshot holder' });
  try {
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const [row] = await session.query<{ snapshot_id: string; time: Date; lsn: string | null }>(
      `SELECT pg_catalog.pg_export_snapshot() AS snapshot_id, pg_catalog.now() AS time,
              CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                   ELSE pg_catalog.pg_current_wal_lsn() END::text AS lsn`,
    );
    const point: SnapshotPoint = {
      snapshotId: row!.snapshot_id,
      time: new Date(row!.time).toISOString(),
      lsn: row!.lsn,
    };
    await writeDocument(ctx.storage, snapshotKind, { runId: input.backupId }, point);
    const deadline = started + input.holdSeconds * 1000;
    let lastKeepalive = Date.now();
    for (;;) {
      if (await ctx.storage.head(layout.snapshotReleased(input.backupId))) break;
      if (Date.now() >= deadline) {
        throw new SnapshotExpiredError(
          `Backup ${input.backupId}: the export did not finish within the snapshot window of ${input.holdSeconds} s, so its snapshot was released and the backup is abandoned. ` +
            'Use more export workers or a larger window (--snapshot-hold-seconds; in AWS the Lambda limit caps it at 840 s).',
        );
      }
      if (Date.now() - lastKeepalive >= KEEPALIVE_MS) {
        await session.query('SELECT 1');
        lastKeepalive = Date.now();
      }
      await sleep(POLL_MS);
    }
    await session.query('COMMIT');
  } finally {
    await session.close();
  }
  return { held: true, seconds: Math.round((Date.now() - started) / 1000) };
}

/** Thrown until the holder has published the snapshot; the ASL retries on it. */
export class SnapshotNotReadyError extends TransientError {}

/**
 * Step "AwaitSnapshot": the snapshot the holder published. Polls briefly itself (the holder
 * usually needs well under a second), then leaves longer waits to the ASL Retry.
 */
export async function awaitSnapshot(input: { backupId: string }, ctx: TaskContext): Promise<SnapshotPoint> {
  const key = layout.snapshot(input.backupId);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await readDocument(ctx.storage, snapshotKind, { runId: input.backupId });
    } catch (err) {
      // Not there yet. A document that is there but fails its checks is damaged, not partial
      // (puts are atomic on every store, test servers included): that is an error, at once.
      if (!(err instanceof ObjectNotFoundError)) throw err;
      if (Date.now() >= deadline)
        throw new SnapshotNotReadyError(
          `Backup ${input.backupId}: the snapshot holder has not published its snapshot yet.`,
        );
      await sleep(50);
    }
  }
}

/**
 * Step "ReleaseSnapshot": tells the holder to end. Idempotent. Given the failure that stopped the
 * export ("ReleaseAfterFailure"), it raises that failure again once the snapshot is released.
 */
export async function releaseSnapshot(
  input: { backupId: string; failure?: StepFailure },
  ctx: TaskContext,
): Promise<{ released: true }> {
  await writeDocument(ctx.storage, snapshotReleaseKind, { runId: input.backupId }, { at: new Date().toISOString() });
  if (input.failure) reraise(input.failure);
  return { released: true };
}
