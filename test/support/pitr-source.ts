// Helpers for point-in-time recovery tests: a source with a PITR collection, and reading back
// what its change archive holds.
import type { ChangeRecord } from '#core/ports/change-stream.ts';
import type { RepositoryStorage } from '#core/ports/storage.ts';
import type { SqlSession } from '#core/ports/database.ts';
import { listChains, readChain } from '#core/pitr/chain.ts';
import { segmentRecords, type ChangeSegment } from '#core/pitr/segment.ts';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';

export interface PitrSource {
  ctx: LocalContext;
  /** A session and a change stream on the source (the stream has its own session). */
  session: SqlSession;
  stream: LogicalSlotStream;
  close(): Promise<void>;
}

export async function openPitrSource(repo: string, sourceUrl: string): Promise<PitrSource> {
  const ctx = await openLocalContext(repo, { create: true });
  ctx.credentials.register('source', sourceUrl);
  const session = await ctx.databases.connect({ credentials: 'source' });
  const streamSession = await ctx.databases.connect(
    { credentials: 'source' },
    { applicationName: 'tidemark archiver' },
  );
  return {
    ctx,
    session,
    stream: new LogicalSlotStream(streamSession),
    async close() {
      await session.close();
      await streamSession.close();
    },
  };
}

/** Every segment of the collection's last chain, in order, with its records. */
export async function archivedSegments(
  storage: RepositoryStorage,
  collection: string,
): Promise<{ segment: ChangeSegment; records: ChangeRecord[] }[]> {
  const chains = await listChains(storage, collection);
  const places = [...chains.values()].at(-1) ?? [];
  const out: { segment: ChangeSegment; records: ChangeRecord[] }[] = [];
  for await (const segment of readChain(storage, places)) out.push({ segment, records: await segmentRecords(segment) });
  return out;
}
