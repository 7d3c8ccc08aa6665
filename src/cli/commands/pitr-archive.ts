// `tidemark pitr archive [--follow]`: drain the slot into change segments; after a gap, the new
// chain's base backup (FORMAT.md, "Point-in-time recovery").
import { UsageError } from '#core/errors.ts';
import { pitrNames } from '#core/pitr/names.ts';
import { archiveChanges, type ArchiveResult } from '#core/pitr/archive.ts';
import { followChanges } from '#core/pitr/follow.ts';
import { segmentRecorder } from '#core/pipelines/segment-recorder.ts';
import { chainLacksBaseBackup } from '#core/pitr/base-backup.ts';
import { formatCount, printJson, say } from '../output.ts';
import { takeBaseBackup, withSource, type PitrOptions } from './pitr-source.ts';

export async function pitrArchiveCommand(options: PitrOptions): Promise<void> {
  const started = performance.now();
  const result = await withSource(options, async (ctx, session, stream) => {
    const archived = await archiveChanges(stream, ctx.storage, options.collection, {
      session,
      onSegment: segmentRecorder(ctx.catalog),
      ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}),
    });
    if (!archived.gap) {
      if (!(await chainLacksBaseBackup(ctx.catalog, ctx.storage, options.collection, archived.chain))) return archived;
      if (!options.json)
        say(
          `Chain ${archived.chain} began after a gap and has no base backup yet (the run that began it stopped first): taking it…`,
        );
      const baseBackupId = await takeBaseBackup(ctx, options.collection);
      if (!options.json) say(`Base backup ${baseBackupId} of chain ${archived.chain} committed.`);
      return { ...archived, baseBackupId };
    }
    const g = archived.gap;
    if (!options.json) say(gapNotice(options.collection, g));
    const backupId = await takeBaseBackup(ctx, options.collection);
    if (!options.json) say(`Base backup ${backupId} of chain ${g.chain} committed.`);
    return { ...archived, gap: { ...g, backupId } };
  });
  const seconds = (performance.now() - started) / 1000;
  if (options.json) return printJson({ ok: true, ...result, seconds: Number(seconds.toFixed(3)) });
  say(
    `Archived ${formatCount(result.transactions)} transactions (${formatCount(result.changes)} row changes) in ${formatCount(result.segments)} segments in ${seconds.toFixed(1)} s; the archive ends at ${result.lastCommit ? `${result.lastCommit.time} (xid:${result.lastCommit.xid}, lsn:${result.endLsn})` : result.endLsn}.`,
  );
}

/** `pitr archive --follow`: drains every --segment-seconds until SIGINT/SIGTERM, then seals what it has. */
export async function pitrFollowCommand(options: PitrOptions): Promise<void> {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!options.json) say(`${signal}: sealing what has committed, then stopping…`);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = performance.now();
  /** The chain whose base backup was looked for already. */
  let checkedChain: string | undefined;
  try {
    const result = await withSource(options, (ctx, session, stream) =>
      followChanges(stream, ctx.storage, options.collection, {
        session,
        onSegment: segmentRecorder(ctx.catalog),
        signal: stop.signal,
        segmentSeconds: options.segmentSeconds ?? 30,
        heartbeatSeconds: options.heartbeatSeconds ?? 60,
        ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}),
        onDrain: async (drained) => {
          if (
            !drained.gap &&
            checkedChain !== drained.chain &&
            (await chainLacksBaseBackup(ctx.catalog, ctx.storage, options.collection, drained.chain))
          ) {
            const backupId = await takeBaseBackup(ctx, options.collection);
            if (!options.json) say(`Base backup ${backupId} of chain ${drained.chain} (begun after a gap) committed.`);
          }
          checkedChain = drained.chain;
          if (drained.gap) {
            if (!options.json) say(gapNotice(options.collection, drained.gap));
            const backupId = await takeBaseBackup(ctx, options.collection);
            if (!options.json) say(`Base backup ${backupId} of chain ${drained.gap.chain} committed.`);
          }
          if (drained.transactions && !options.json)
            say(
              `Archived ${formatCount(drained.transactions)} transactions (${formatCount(drained.changes)} row changes) to ${drained.lastCommit?.time ?? drained.endLsn}.`,
            );
        },
      }),
    );
    const seconds = Number(((performance.now() - started) / 1000).toFixed(3));
    if (options.json) return printJson({ ok: true, ...result, seconds });
    say(
      `Stopped after ${seconds} s: ${formatCount(result.transactions)} transactions (${formatCount(result.changes)} row changes) in ${formatCount(result.segments)} segments; the archive ends at ${result.endLsn}.`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function positiveSeconds(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!(n > 0)) throw new UsageError(`${flag} takes a number of seconds above 0, not "${v}".`);
    return n;
  };
}

function gapNotice(collection: string, g: NonNullable<ArchiveResult['gap']>): string {
  return (
    `Gap: slot ${pitrNames(collection).slot} was ${GAP_CAUSES[g.reason]}, so chain ${g.previousChain} ends at ${g.previousLastCommit ? `${g.previousLastCommit.time} (xid:${g.previousLastCommit.xid}, lsn:${g.previousEndLsn})` : g.previousEndLsn}. ` +
    `Started chain ${g.chain} from ${g.startLsn} with a new slot; nothing between them can be restored to. Taking its base backup…`
  );
}

export const GAP_CAUSES = {
  'slot-dropped': 'dropped',
  'slot-lost': 'invalidated (wal_status lost: the server removed WAL it had not archived)',
  'slot-recreated': 'recreated or read by something else (confirmed past the archive)',
  'timeline-changed':
    'found on a new WAL timeline of the source (a failover, promotion or point-in-time recovery: what the old timeline archived may not exist on this one)',
  'source-replaced': 'found on another cluster (another system identifier: the source was replaced)',
} as const;
