// The archive state machine (state-machines/archive.asl.json) through the local runner, on the
// AWS-shaped stores: the repository in S3 (s3rver), the catalog in DynamoDB (dynalite). Each
// segment the archive writes is recorded in the catalog, in LSN order, with what the repository
// holds; one drainer per slot (the lease); a failure and a gap are published as events.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { ExecutionFailedError, runStateMachine, type PublishedEvent } from '#local/state-machine-runner.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { listChains, readChain } from '#core/pitr/chain.ts';
import { segmentRecords } from '#core/pitr/segment.ts';
import { compareLsn } from '#core/pitr/lsn.ts';
import { archiveLeaseName } from '#core/pipelines/archive-lease.ts';
import { archiveRunInput } from '#core/pipelines/archive-input.ts';
import type { SegmentRecord } from '#core/ports/segment-catalog.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';

let server: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;
let ctx: LocalContext;
const COLLECTION = 'ledger';

beforeAll(async () => {
  [server, s3, dynamo] = await Promise.all([
    startPostgres({ major: 15, extraFlags: ['-c', 'synchronous_commit=on'] }),
    startS3rver(),
    startDynalite(),
  ]);
  vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  await createCatalogTable(dynamo.client(), 'tidemark-pitr');
  ctx = await openLocalContext(`s3://${s3.bucket}/pitr`, { create: true, catalog: 'dynamodb://tidemark-pitr' });
  await server.createDatabase(COLLECTION);
  await server.sql(
    'CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL); INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 100) g',
    COLLECTION,
  );
  ctx.credentials.register('source', server.url(COLLECTION));
  await withSource((session, stream) => enablePitr(session, stream, ctx.storage, COLLECTION));
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([server?.stop(), s3?.stop(), dynamo?.stop()]);
});

async function withSource<T>(fn: (session: any, stream: LogicalSlotStream) => Promise<T>): Promise<T> {
  const session = await ctx.databases.connect({ credentials: 'source' });
  const streamSession = await ctx.databases.connect({ credentials: 'source' });
  try {
    return await fn(session, new LogicalSlotStream(streamSession));
  } finally {
    await Promise.all([session.close(), streamSession.close()]);
  }
}

async function archive(events: PublishedEvent[] = [], input = {}) {
  return runStateMachine(
    'archive',
    { ...archiveRunInput({ collection: COLLECTION, source: { credentials: 'source' }, segmentBytes: 8192 }), ...input },
    ctx,
    { onEvent: (e) => events.push(e) },
  );
}

async function transfers(n: number): Promise<void> {
  for (let i = 0; i < n; i++)
    await server.sql(
      `BEGIN; UPDATE accounts SET balance = balance - 5 WHERE id = ${1 + (i % 100)}; UPDATE accounts SET balance = balance + 5 WHERE id = ${1 + ((i + 7) % 100)}; COMMIT`,
      COLLECTION,
    );
}

/** The repository's segments of every chain, as the catalog should record them, in order. */
async function repositorySegments(): Promise<
  Array<Pick<SegmentRecord, 'chain' | 'afterLsn' | 'part' | 'endLsn' | 'transactions' | 'changes' | 'xids'>>
> {
  const out = [];
  for (const places of (await listChains(ctx.storage, COLLECTION)).values())
    for await (const s of readChain(ctx.storage, places)) {
      const xids = (await segmentRecords(s)).flatMap((r) => (r.k === 'C' ? [BigInt(r.xid)] : []));
      out.push({
        chain: s.chain,
        afterLsn: s.afterLsn,
        part: s.part,
        endLsn: s.endLsn,
        transactions: s.transactions,
        changes: s.changes,
        ...(xids.length
          ? {
              xids: {
                min: String(xids.reduce((a, b) => (a < b ? a : b))),
                max: String(xids.reduce((a, b) => (a > b ? a : b))),
              },
            }
          : {}),
      });
    }
  return out;
}

const recorded = async () =>
  (await ctx.catalog.listSegments(COLLECTION)).map(
    ({ chain, afterLsn, part, endLsn, transactions, changes, xids }) => ({
      chain,
      afterLsn,
      part,
      endLsn,
      transactions,
      changes,
      ...(xids ? { xids } : {}),
    }),
  );

describe('the archive machine on S3 and DynamoDB', () => {
  it('drains until caught up, and the catalog records every segment the repository holds, in LSN order', async () => {
    await transfers(40);
    // A transaction larger than a segment (8 KiB here) spills into parts.
    await server.sql('UPDATE accounts SET balance = balance + 1', COLLECTION);
    const out = await archive();
    expect(out).toMatchObject({ collection: COLLECTION, caughtUp: true, transactions: 41, changes: 180 });
    expect(out.segments).toBeGreaterThan(2);
    expect(out.bytes).toBeGreaterThan(8192);
    expect(out.storedBytes).toBeGreaterThan(0);
    expect(out.retainedBytes).toBeGreaterThanOrEqual(0);
    expect(out.walStatus).toBe('reserved');
    const inRepository = await repositorySegments();
    // The drain's segments plus the chain's opening segment, which pitr enable wrote.
    expect(inRepository.length).toBe(out.segments + 1);
    expect(await recorded()).toEqual(inRepository);
    expect(inRepository.some((s) => s.part > 0)).toBe(true);
    const records = await ctx.catalog.listSegments(COLLECTION);
    expect(records.reduce((n, r) => n + r.transactions, 0)).toBe(41);
    const last = records.filter((r) => r.lastCommit).at(-1)!;
    // The archive ends at the last commit, or at a later heartbeat.
    expect(compareLsn(last.lastCommit!.lsn, out.endLsn)).toBeLessThanOrEqual(0);
    expect(records.at(-1)!.endLsn).toBe(out.endLsn);
    expect(last.key).toMatch(new RegExp(`^segments/${COLLECTION}/${last.chain}/`));
  }, 120_000);

  it('a second run with nothing new is caught up and keeps catalog and repository equal', async () => {
    await transfers(3);
    const first = await archive();
    expect(first).toMatchObject({ caughtUp: true, transactions: 3 });
    const idle = await archive();
    expect(idle).toMatchObject({ caughtUp: true, transactions: 0 });
    expect(await recorded()).toEqual(await repositorySegments());
  }, 120_000);

  it('one drainer per slot: while another run holds the lease, a run archives nothing and says so', async () => {
    await transfers(2);
    const holder = {
      name: archiveLeaseName(COLLECTION),
      owner: 'another-run',
      purpose: `pitr archive of ${COLLECTION}`,
      acquiredAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 300_000).toISOString(),
    };
    expect(await ctx.catalog.acquireLease(holder, new Date())).toBeUndefined();
    const before = await recorded();
    const skipped = await archive();
    expect(skipped.skipped).toMatch(/Another run drains collection ledger/);
    expect(skipped).toMatchObject({ segments: 0, transactions: 0, caughtUp: false });
    expect(await recorded()).toEqual(before);
    // The holder's lease stays; once released, the next run drains what waited.
    expect((await ctx.catalog.getLease(holder.name))?.owner).toBe('another-run');
    await ctx.catalog.releaseLease(holder.name, holder.owner);
    expect(await archive()).toMatchObject({ caughtUp: true, transactions: 2 });
    expect(await ctx.catalog.getLease(holder.name)).toBeUndefined();
  }, 120_000);

  it('a run stops starting passes after drainSeconds; the next run continues where it stopped', async () => {
    // A backlog that takes one pass longer than a second: 20,000 row changes in 8 KiB segments.
    await server.sql('INSERT INTO accounts SELECT g, 0 FROM generate_series(1000, 20999) g', COLLECTION);
    await transfers(1);
    const started = Date.now();
    const first = await archive([], { drainSeconds: 1 });
    expect(Date.now() - started).toBeGreaterThan(1000);
    // The first pass took the insert and the transfer, then the deadline had passed.
    expect(first).toMatchObject({ caughtUp: false, transactions: 2, changes: 20_002 });
    const next = await archive();
    expect(next).toMatchObject({ caughtUp: true, transactions: 0 });
    expect(await recorded()).toEqual(await repositorySegments());
  }, 180_000);

  it('a failure fails the execution with its error and publishes ChangeArchiveFailed, releasing the lease', async () => {
    const events: PublishedEvent[] = [];
    const err = await runStateMachine(
      'archive',
      archiveRunInput({ collection: 'never-enabled', source: { credentials: 'source' } }),
      ctx,
      { onEvent: (e) => events.push(e) },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ExecutionFailedError);
    expect(err.errorName).toBe('PitrNotEnabledError');
    expect(events.map((e) => e.detailType)).toEqual(['ChangeArchiveFailed']);
    expect(events[0]!.detail).toMatchObject({ collection: 'never-enabled', errorType: 'PitrNotEnabledError' });
    expect(await ctx.catalog.getLease(archiveLeaseName('never-enabled'))).toBeUndefined();
  }, 120_000);

  it('a malformed input is refused before anything runs', async () => {
    const err = await archive([], { drainSeconds: 3600 }).catch((e) => e);
    expect(err).toBeInstanceOf(ExecutionFailedError);
    expect(err.errorName).toBe('UsageError');
    expect(err.causeMessage).toContain('drainSeconds');
  }, 60_000);

  it('a dropped slot: the run starts a new chain, publishes ChangeArchiveGap, and records the new chain', async () => {
    await transfers(2);
    await archive();
    await withSource((session) => session.query('SELECT pg_drop_replication_slot($1)', [`tidemark_${COLLECTION}`]));
    await transfers(2);
    const events: PublishedEvent[] = [];
    const out = await archive(events);
    expect(out.gap).toMatchObject({ reason: 'slot-dropped' });
    expect(events.map((e) => e.detailType)).toEqual(['ChangeArchiveGap']);
    expect(events[0]!.detail).toMatchObject({
      collection: COLLECTION,
      gap: { reason: 'slot-dropped', chain: out.chain },
    });
    const chains = new Set((await ctx.catalog.listSegments(COLLECTION)).map((r) => r.chain));
    expect(chains.size).toBe(2);
    expect(await ctx.catalog.listSegments(COLLECTION, out.chain)).not.toEqual([]);
    expect(await recorded()).toEqual(await repositorySegments());
  }, 120_000);
});
