// Where a restore to a point starts: the chain of the change archive that holds the target, the
// commit the target ends at, and the newest backup taken in that chain whose snapshot does not
// hold it (FORMAT.md, "Point-in-time recovery", "Targets"). Resolve plans the replay from them
// (restore/replay-plan.ts).
import type { TaskContext } from '../task-context.ts';
import { RestoreTargetError } from '../errors.ts';
import type { Manifest } from '../repository/manifest.ts';
import { chainBackups } from './base-backup.ts';
import { listChains, readChain, type SegmentPlace } from './chain.ts';
import { describeTarget, resolvePoint } from './resolve-point.ts';
import type { CommitPoint } from './segment.ts';
import { isoMicros, TxidSnapshot, type PitrTarget } from './target.ts';
import { compareLsn } from './lsn.ts';

/**
 * The chain that holds the target, newest first. Chains are separated by gaps (a slot dropped or
 * lost, then a new enable): a target in a gap is refused with every chain's window.
 */
export async function chainOf(
  ctx: TaskContext,
  collection: string,
  target: PitrTarget,
): Promise<{ places: SegmentPlace[]; point: CommitPoint }> {
  const chains = [...(await listChains(ctx.storage, collection)).values()].reverse();
  if (!chains.length)
    throw new RestoreTargetError(
      `Collection ${collection} has no change archive: it can be restored to its backups only. Enable it with \`tidemark pitr enable --collection ${collection}\`.`,
    );
  const refusals: string[] = [];
  for (const places of chains) {
    try {
      return { places, point: (await resolvePoint(ctx.storage, places, target)).point };
    } catch (err) {
      if (!(err instanceof RestoreTargetError) || chains.length === 1) throw err;
      refusals.push(`chain ${places[0]!.chain}: ${err.message}`);
    }
  }
  const gap = await gapHolding(ctx.storage, chains.reverse(), target);
  throw new RestoreTargetError(
    gap
      ? `${describeTarget(target)} lies in a gap of collection ${collection}'s change archive, between chain ${gap.before.chain} and chain ${gap.after.chain}` +
          `${gap.reason ? ` (${gap.reason.replace('-', ' ')})` : ''}: nothing in between was archived. ` +
          `The nearest reachable points are ${describePoint(gap.before.last)}, the last of chain ${gap.before.chain}, and ${describePoint(gap.after.first)}, the first of chain ${gap.after.chain} ` +
          '(reachable once a backup taken in that chain does not hold it).'
      : `${describeTarget(target)} is in no chain of collection ${collection}'s change archive: it lies in a gap (the slot was dropped or lost, and a new chain began later), or outside the archive. ` +
          `Per chain, newest first:\n  ${refusals.join('\n  ')}`,
  );
}

function describePoint(p: CommitPoint): string {
  return `${p.time} (xid:${p.xid}, lsn:${p.lsn})`;
}

/** For a time or LSN target between two chains: the chains either side, from their segments' headers. */
async function gapHolding(storage: TaskContext['storage'], chains: SegmentPlace[][], target: PitrTarget) {
  if (target.kind !== 'time' && target.kind !== 'lsn') return undefined;
  const windows: { chain: string; first?: CommitPoint; last?: CommitPoint; reason?: string }[] = [];
  for (const places of chains) {
    const w: (typeof windows)[number] = { chain: places[0]!.chain };
    for await (const segment of readChain(storage, places)) {
      if (segment.gap) w.reason = segment.gap.reason;
      if (segment.firstCommit) w.first ??= segment.firstCommit;
      if (segment.lastCommit) w.last = segment.lastCommit;
    }
    windows.push(w);
  }
  const after = (p: CommitPoint) =>
    target.kind === 'time' ? isoMicros(p.time)! > target.micros : compareLsn(p.lsn, target.lsn) > 0;
  for (let i = 1; i < windows.length; i++) {
    const [before, next] = [windows[i - 1]!, windows[i]!];
    if (before.last && next.first && !after(before.last) && after(next.first))
      return {
        before: { chain: before.chain, last: before.last },
        after: { chain: next.chain, first: next.first },
        reason: next.reason,
      };
  }
  return undefined;
}

/** The newest committed backup of the collection taken within the chain whose snapshot does not hold `point`. */
export async function chooseBackup(
  ctx: TaskContext,
  collection: string,
  places: Parameters<typeof readChain>[1],
  point: CommitPoint,
  target: PitrTarget,
) {
  const opening = await readChain(ctx.storage, places.slice(0, 1))[Symbol.asyncIterator]().next();
  const tooNew: Manifest[] = [];
  for await (const manifest of chainBackups(ctx.catalog, ctx.storage, collection, opening.value!)) {
    const snapshot = new TxidSnapshot(manifest.snapshot.txidSnapshot!);
    if (!snapshot.sees(point.xid)) return { manifest, snapshot };
    tooNew.push(manifest);
  }
  const oldest = tooNew.at(-1);
  throw new RestoreTargetError(
    `${describeTarget(target)} (the commit of xid ${point.xid} at ${point.time}) is before the first backup of collection ${collection} taken since its change archive began` +
      (oldest
        ? ` (${oldest.backupId}, snapshot at ${oldest.snapshot.time}): restore to a point after it.`
        : ': there is none yet; take one with `tidemark backup --collection ' + collection + '`.'),
  );
}
