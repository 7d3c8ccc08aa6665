// `pitr status`: what Tidemark has in the source (slot, DDL capture) and what the change
// archive can restore to (issue 13, item 3). Gaps between chains are named; detecting a gap
// inside a chain (slot recreated, failover, timeline) comes with catalog records of segments.
import type { ChangeStream, SlotState } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { listChains, chainLsn, readChain } from './chain.ts';
import { pitrNames } from './names.ts';
import type { CommitPoint } from './segment.ts';

export interface ChainStatus {
  chain: string;
  startLsn: string;
  segments: number;
  transactions: number;
  firstCommit?: CommitPoint;
  lastCommit?: CommitPoint;
  /** When the newest segment was sealed. */
  lastSealedAt?: string;
}

export interface PitrStatus {
  collection: string;
  /** Tidemark's objects in the source, by name. */
  objects: string[];
  slot: SlotState | null;
  chains: ChainStatus[];
  /** Ends of chains that the next chain does not continue: no restore target lies between them. */
  gaps: { after: string; until: string }[];
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
  for (const [chain, places] of await listChains(storage, collection)) {
    const status: ChainStatus = { chain, startLsn: chainLsn(chain), segments: 0, transactions: 0 };
    for await (const segment of readChain(storage, places)) {
      status.segments++;
      status.transactions += segment.transactions;
      if (segment.firstCommit && !status.firstCommit) status.firstCommit = segment.firstCommit;
      if (segment.lastCommit) status.lastCommit = segment.lastCommit;
      if (segment.sealedAt) status.lastSealedAt = segment.sealedAt;
    }
    chains.push(status);
  }
  const gaps = chains.slice(1).map((c, i) => ({
    after: chains[i]!.lastCommit?.time ?? chains[i]!.startLsn,
    until: c.firstCommit?.time ?? c.startLsn,
  }));
  return { collection, objects, slot, chains, gaps };
}
