// What the pitr commands share: their options, a session and change stream on the collection's
// source, and the base backup of a chain (the backup state machine, run in-process).
import { openLocalContext, repositoryPath, type LocalContext } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { CollectionNotFoundError } from '#core/errors.ts';
import { backupRunInput } from '#core/backup/run-input.ts';
import type { SqlSession } from '#core/ports/database.ts';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';

export interface PitrOptions {
  collection: string;
  repo?: string;
  catalog?: string;
  json?: boolean;
  backup?: boolean;
  replicaIdentityFull?: boolean;
  segmentBytes?: number;
  follow?: boolean;
  segmentSeconds?: number;
  heartbeatSeconds?: number;
}

export async function withSource<T>(
  options: PitrOptions,
  fn: (ctx: LocalContext, session: SqlSession, stream: LogicalSlotStream) => Promise<T>,
): Promise<T> {
  const repo = repositoryPath(options.repo);
  const ctx = await openLocalContext(repo, { create: false, catalog: options.catalog });
  const collection = await ctx.catalog.getCollection(options.collection);
  if (!collection)
    throw new CollectionNotFoundError(
      `Collection ${options.collection} does not exist in the repository at ${repo}. Create it with \`tidemark collection create ${options.collection} --source <postgres-url>\`.`,
    );
  ctx.credentials.register('source', collection.source);
  const session = await ctx.databases.connect({ credentials: 'source' }, { applicationName: 'tidemark pitr' });
  const streamSession = await ctx.databases
    .connect({ credentials: 'source' }, { applicationName: 'tidemark archiver' })
    .catch(async (err) => {
      await session.close();
      throw err;
    });
  try {
    return await fn(ctx, session, new LogicalSlotStream(streamSession));
  } finally {
    await streamSession.close();
    await session.close();
  }
}

/** A chain's base backup: the backup state machine, run once the chain's slot exists. */
export async function takeBaseBackup(ctx: LocalContext, collection: string): Promise<string> {
  const input = backupRunInput({
    source: { credentials: 'source' },
    collection,
    workers: 4,
    snapshotHoldSeconds: 86_400,
    plan: {},
  });
  return ((await runStateMachine('backup', input, ctx)) as { backupId: string }).backupId;
}
