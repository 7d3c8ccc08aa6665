// One instant (DESIGN.md, "Consistency"): while writers move money between accounts and log
// each transfer in a ledger, a backup read by many parallel export tasks at different times must
// restore to a database where money is conserved and every balance agrees with the ledger.
// The backup runs in-process through the real state machine, so the test can make batches small.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { openLocalContext } from '#local/local-context.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { describeUrl } from '#adapters/postgres/connector.ts';

const ACCOUNTS = 200_000;
const INITIAL_BALANCE = 1_000;
const WRITERS = 4;

let server: PostgresServer;
let scratch: string;

beforeAll(async () => {
  [server, scratch] = await Promise.all([
    startPostgres({ major: 15 }),
    mkdtemp(join(tmpdir(), 'tidemark-consistency-')),
  ]);
  await server.createDatabase('bank');
  // ~250 bytes a row: ~55 MB of accounts, ~55 export tasks of 1 MB.
  await server.sql(
    `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, padding text NOT NULL);
     CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount bigint NOT NULL,
                          at timestamptz NOT NULL DEFAULT clock_timestamp());
     INSERT INTO accounts SELECT g, ${INITIAL_BALANCE}, repeat(md5(g::text), 7) FROM generate_series(1, ${ACCOUNTS}) g;`,
    'bank',
  );
  await server.sql(`VACUUM ANALYZE accounts`, 'bank');
});

afterAll(async () => {
  await server?.stop();
  await rm(scratch, { recursive: true, force: true });
});

interface Commit {
  at: number;
}

/** A writer: transfers between random accounts until stopped, one transaction each. */
async function writer(url: string, stop: () => boolean, commits: Commit[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    while (!stop()) {
      const a = 1 + Math.floor(Math.random() * ACCOUNTS);
      const b = 1 + ((a + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS);
      const amount = 1 + Math.floor(Math.random() * 100);
      const delta = new Map([
        [a, -amount],
        [b, amount],
      ]);
      await client.query('BEGIN');
      // Rows locked in id order, so writers never deadlock.
      for (const id of [a, b].sort((x, y) => x - y)) {
        await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [id, delta.get(id)]);
      }
      await client.query('INSERT INTO ledger (from_id, to_id, amount) VALUES ($1, $2, $3)', [a, b, amount]);
      await client.query('COMMIT');
      commits.push({ at: Date.now() });
    }
  } finally {
    await client.end();
  }
}

/** Money, transfers and balances of a restored bank. */
async function restoredState(
  database: string,
): Promise<{ accounts: number; total: string; transfers: number; disagreeing: number; touched: number }> {
  const { rows } = await server.sql(
    `SELECT (SELECT count(*)::int FROM accounts) AS accounts,
            (SELECT sum(balance)::bigint FROM accounts) AS total,
            (SELECT count(*)::int FROM ledger) AS transfers,
            (SELECT count(*)::int FROM accounts a
               LEFT JOIN (SELECT id, sum(delta) AS delta
                            FROM (SELECT to_id AS id, amount AS delta FROM ledger
                                  UNION ALL SELECT from_id, -amount FROM ledger) moves
                           GROUP BY id) l USING (id)
              WHERE a.balance <> ${INITIAL_BALANCE} + coalesce(l.delta, 0)) AS disagreeing,
            (SELECT count(*)::int FROM accounts WHERE balance <> ${INITIAL_BALANCE}) AS touched`,
    database,
  );
  return rows[0];
}

/**
 * WRITERS writers moving money in `bank` until stopped. `stop` waits for them and fails with the
 * first writer's error; `abandon` (for `finally`) only waits.
 */
function startWriters(): { commits: Commit[]; stop: () => Promise<void>; abandon: () => Promise<void> } {
  const commits: Commit[] = [];
  let stopping = false;
  const writers = Array.from({ length: WRITERS }, () => writer(server.url('bank'), () => stopping, commits));
  return {
    commits,
    stop: async () => {
      stopping = true;
      await Promise.all(writers);
    },
    abandon: async () => {
      stopping = true;
      await Promise.allSettled(writers);
    },
  };
}

describe('a backup taken while writers run', () => {
  it('restores one instant: money is conserved and balances match the ledger', async () => {
    const { commits, stop, abandon } = startWriters();
    try {
      await new Promise((r) => setTimeout(r, 500));
      const backupStarted = Date.now();
      const committedBefore = commits.length;
      // Small ranges and batches: ~55 export tasks in ~25 batches, 4 at a time, each batch a
      // session of its own that starts reading at a different moment.
      const ctx = await openLocalContext(join(scratch, 'repo'), { create: true });
      ctx.credentials.register('source', server.url('bank'));
      ctx.credentials.register('target', server.url('bank_restored'));
      const batchStarts: number[] = [];
      const backup = await runStateMachine(
        'backup',
        {
          source: { credentials: 'source' },
          options: {
            workers: 4,
            snapshotHoldSeconds: 600,
            plan: { chunkBytes: 256 << 10, rangeBytes: 1 << 20, batchBytes: 2 << 20 },
          },
        },
        ctx,
        { onState: (e) => e.type === 'StateEntered' && e.state === 'ExportBatch' && batchStarts.push(Date.now()) },
      );
      const backupEnded = Date.now();
      const record = (await ctx.catalog.getBackup(backup.backupId))!;
      expect(record.state).toBe('committed');
      const snapshotAt = Date.parse(record.snapshotTime!);
      expect(snapshotAt).toBeGreaterThan(backupStarted);
      expect(snapshotAt).toBeLessThan(backupEnded);
      await new Promise((r) => setTimeout(r, 300));
      await stop();

      const firstRead = Math.min(...batchStarts);
      const lastRead = Math.max(...batchStarts);
      const duringExport = commits.filter((c) => c.at > snapshotAt && c.at < backupEnded).length;
      const betweenReads = commits.filter((c) => c.at > firstRead && c.at < lastRead).length;
      const after = commits.filter((c) => c.at > backupEnded).length;
      console.log(
        `${batchStarts.length} export batches over ${lastRead - firstRead} ms; transfers: ${committedBefore} before the backup, ` +
          `${duringExport} after its snapshot while it exported (${betweenReads} between the first and last batch), ${after} after it; ${commits.length} in all; backup ${backupEnded - backupStarted} ms`,
      );
      expect(batchStarts.length).toBeGreaterThanOrEqual(10);
      expect(committedBefore).toBeGreaterThan(0);
      expect(betweenReads).toBeGreaterThan(20);
      expect(duringExport).toBeGreaterThan(20);
      expect(after).toBeGreaterThan(0);

      const restore = await runStateMachine(
        'restore',
        { backup: backup.backupId, target: { credentials: 'target' }, options: { workers: 4 } },
        ctx,
      );
      expect(restore).toMatchObject({ backupId: backup.backupId, tables: 2 });

      const r = await restoredState('bank_restored');
      expect(r.accounts).toBe(ACCOUNTS);
      expect(r.total).toBe(String(ACCOUNTS * INITIAL_BALANCE));
      expect(r.disagreeing).toBe(0);
      // The snapshot falls strictly inside the writers' run: the backup saw some transfers and missed some.
      expect(r.transfers).toBeGreaterThanOrEqual(committedBefore);
      expect(r.transfers).toBeLessThan(commits.length);
      expect(r.touched).toBeGreaterThan(0);
      // And the source itself, after all the writes, is still consistent (the check can tell).
      const [source] = (await server.sql(`SELECT sum(balance)::bigint AS total FROM accounts`, 'bank')).rows;
      expect(source.total).toBe(String(ACCOUNTS * INITIAL_BALANCE));
    } finally {
      await abandon();
    }
  });
});

describe('incremental backups taken while writers run', () => {
  // Transactions still running at the parent's snapshot commit afterwards: their rows must be in
  // the next backup's layer even though their xids are older than that backup's snapshot.
  it('each restores one instant: money is conserved and balances match the ledger', async () => {
    const { commits, stop, abandon } = startWriters();
    try {
      const ctx = await openLocalContext(join(scratch, 'collection-repo'), { create: true });
      const url = server.url('bank');
      await createCollection(ctx, {
        name: 'bank',
        source: 'source',
        sourceDescription: describeUrl(url),
        retention: {},
      });
      ctx.credentials.register('source', url);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 400));
        const input = {
          source: { credentials: 'source' },
          collection: 'bank',
          options: {
            workers: 4,
            snapshotHoldSeconds: 600,
            plan: { chunkBytes: 256 << 10, rangeBytes: 1 << 20, batchBytes: 2 << 20 },
          },
        };
        ids.push((await runStateMachine('backup', input, ctx)).backupId);
      }
      await new Promise((r) => setTimeout(r, 300));
      await stop();
      expect((await readManifest(ctx.storage, ids[2]!)).tables.find((t) => t.name === 'accounts')!.layers).toHaveLength(
        2,
      );
      let previousTransfers = -1;
      for (const [i, backupId] of ids.entries()) {
        ctx.credentials.register('target', server.url(`bank_incremental_${i}`));
        await runStateMachine(
          'restore',
          { backup: backupId, target: { credentials: 'target' }, options: { workers: 4 } },
          ctx,
        );
        const r = await restoredState(`bank_incremental_${i}`);
        expect(r).toMatchObject({ accounts: ACCOUNTS, total: String(ACCOUNTS * INITIAL_BALANCE), disagreeing: 0 });
        expect(r.transfers).toBeGreaterThan(previousTransfers);
        previousTransfers = r.transfers;
      }
      // The last backup saw some transfers, and missed those after it (the ledger also holds the
      // first test's transfers, so compare with the source's own count).
      const [source] = (await server.sql(`SELECT count(*)::int AS n FROM ledger`, 'bank')).rows;
      expect(previousTransfers).toBeLessThan(source.n);
      expect(commits.length).toBeGreaterThan(0);
    } finally {
      await abandon();
    }
  });
});
