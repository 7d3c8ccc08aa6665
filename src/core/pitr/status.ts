// `pitr status`: what Tidemark has in the source (slot, DDL capture) and what the change
// archive can restore to (issue 13, item 3): each chain's window and WAL timeline, and the gap
// before each chain after the first, with its cause when the archiver recorded one in the chain's
// opening segment (a slot dropped, lost or recreated; a new timeline; another cluster).
import type { ChangeStream, SlotState } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { listChains, chainLsn, readChain } from './chain.ts';
import { pitrNames } from './names.ts';
import type { ChainGap, CommitPoint } from './segment.ts';

export interface ChainStatus {
  chain: string;
  startLsn: string;
  segments: number;
  transactions: number;
  firstCommit?: CommitPoint;
  lastCommit?: CommitPoint;
  /** When the newest segment was sealed. */
  lastSealedAt?: string;
  /** The source's WAL timeline the chain was archived on, as its newest segment records it (absent before it was recorded). */
  timeline?: string;
  /** The gap before this chain, as the archiver recorded it when it started the chain. */
  gap?: ChainGap;
}

export interface ArchiveGap {
  /** The last restorable point before the gap (time, else LSN) and the first after it. */
  after: string;
  until: string;
  previousChain: string;
  chain: string;
  /** Why the chain broke: recorded by the archiver, or `new-enable` for a chain `pitr enable` started. */
  reason: ChainGap['reason'] | 'new-enable';
  /** The previous chain's archive end and the next chain's start: no commit between them is archived. */
  afterLsn: string;
  untilLsn: string;
}

export interface PitrStatus {
  collection: string;
  /** Tidemark's objects in the source, by name. */
  objects: string[];
  slot: SlotState | null;
  chains: ChainStatus[];
  /** Ends of chains that the next chain does not continue: no restore target lies between them. */
  gaps: ArchiveGap[];
}

export async function pitrStatus(
  session: SqlSession,
  stream: ChangeStream,
  storage: RepositoryStorage,
  collection: string,
): Promise<PitrStatus> {
  const names = pitrNames(collection);
  const slot = (await stream.slotState(names.slot)) ?? null;
  const [capture] = await session.query<{ trigger: boolean; fn: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1) AS trigger,
            EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.proname = $1 AND p.pronamespace = 'public'::pg_catalog.regnamespace) AS fn`,
    [names.ddlCapture],
  );
  const objects = [
    ...(slot ? [`replication slot ${names.slot}`] : []),
    ...(capture!.trigger ? [`event trigger ${names.ddlCapture}`] : []),
    ...(capture!.fn ? [`function public.${names.ddlCapture}()`] : []),
  ];
  const chains: ChainStatus[] = [];
  const ends: string[] = [];
  for (const [chain, places] of await listChains(storage, collection)) {
    const status: ChainStatus = { chain, startLsn: chainLsn(chain), segments: 0, transactions: 0 };
    let endLsn = status.startLsn;
    for await (const segment of readChain(storage, places)) {
      if (segment.gap) status.gap = segment.gap;
      endLsn = segment.endLsn;
      status.segments++;
      status.transactions += segment.transactions;
      if (segment.firstCommit && !status.firstCommit) status.firstCommit = segment.firstCommit;
      if (segment.lastCommit) status.lastCommit = segment.lastCommit;
      if (segment.sealedAt) status.lastSealedAt = segment.sealedAt;
      if (segment.source.timeline) status.timeline = segment.source.timeline;
    }
    chains.push(status);
    ends.push(endLsn);
  }
  const gaps = chains.slice(1).map(
    (c, i): ArchiveGap => ({
      after: chains[i]!.lastCommit?.time ?? chains[i]!.startLsn,
      until: c.firstCommit?.time ?? c.startLsn,
      previousChain: chains[i]!.chain,
      chain: c.chain,
      reason: c.gap?.reason ?? 'new-enable',
      afterLsn: ends[i]!,
      untilLsn: c.startLsn,
    }),
  );
  return { collection, objects, slot, chains, gaps };
}
