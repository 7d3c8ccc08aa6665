// A point-in-time restore through the restore state machine (state-machines/restore.asl.json,
// run locally by the same runner as every restore): Resolve picks the backup before the point,
// the base is restored and verified, ReplayChanges replays up to the point in chained
// invocations, Complete records the point reached. On the file repository and on the AWS-shaped
// stores (s3rver + dynalite). The oracle is the source itself, read when it was at the point.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import pg from 'pg';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { runStateMachine, type PublishedEvent, type StateEvent } from '#local/state-machine-runner.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { backupRunInput } from '#core/backup/run-input.ts';
import { parseRestoreRunInput, restoreRunInput } from '#core/restore/run-input.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import type { ReplayProgress } from '#core/restore/replay-step.ts';
import { TransientError } from '#core/errors.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import { tempRepository } from '../support/pipeline.ts';

let server: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;

beforeAll(async () => {
  [server, s3, dynamo] = await Promise.all([startPostgres({ major: 15 }), startS3rver(), startDynalite()]);
  vi.stubEnv('AWS_ENDPOINT_URL_S3', s3.endpoint);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('AWS_ACCESS_KEY_ID', S3RVER_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', S3RVER_CREDENTIALS.secretAccessKey);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  await createCatalogTable(dynamo.client(), 'tidemark-pitr-restore');
}, 120_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([server?.stop(), s3?.stop(), dynamo?.stop()]);
});

const STORES = [
  { store: 'file repository', open: async () => openLocalContext(await tempRepository(), { create: true }) },
  {
    store: 's3rver + dynalite',
    open: () =>
      openLocalContext(`s3://${s3.bucket}/pitr-restore`, { create: true, catalog: 'dynamodb://tidemark-pitr-restore' }),
  },
];

describe.each(STORES)('a point-in-time restore through the restore machine, on the $store', ({ store, open }) => {
  const db = store.startsWith('file') ? 'shop_file' : 'shop_s3';
  let ctx: LocalContext;
  let client: pg.Client;
  /** What the source held right after the commit of `xid`, and a time after it, before the next commit. */
  let point: { xid: string; time: string; contents: Record<string, string[]> };
  let restores = 0;

  /** One order: a new row (bigserial key), a stock update, a note in a keyless table, sometimes a delete. */
  async function order(n: number): Promise<string> {
    await client.query('BEGIN');
    await client.query('INSERT INTO orders (item, qty) VALUES ($1, $2)', [1 + (n % 5), 1 + (n % 3)]);
    await client.query('UPDATE stock SET qty = qty - $2 WHERE item = $1', [1 + (n % 5), 1 + (n % 3)]);
    await client.query('INSERT INTO notes VALUES ($1, $2)', [n % 4, `order ${n}`]);
    if (n % 4 === 3) await client.query('DELETE FROM notes WHERE ctid = (SELECT min(ctid) FROM notes WHERE k = 0)');
    const { rows } = await client.query('SELECT txid_current()::text AS xid');
    await client.query('COMMIT');
    return rows[0].xid;
  }

  async function archive(): Promise<void> {
    const session = await ctx.databases.connect({ credentials: 'source' });
    try {
      await archiveChanges(new LogicalSlotStream(session), ctx.storage, db, { segmentBytes: 2048 });
    } finally {
      await session.close();
    }
  }

  async function restore(
    to: string,
    options: {
      replaySeconds?: number;
      onState?: (e: StateEvent) => void;
      onEvent?: (e: PublishedEvent) => void;
      /** Before the first ReplayChanges: the target holds the restored backup. */
      beforeReplay?: (database: string) => Promise<void>;
    } = {},
  ) {
    const database = `${db}_at_${++restores}`;
    ctx.credentials.register(database, server.url(database));
    let replays = 0;
    const calls: ReplayProgress[] = [];
    const output: CompleteOutput = await runStateMachine(
      'restore',
      restoreRunInput({
        collection: db,
        to,
        target: { credentials: database },
        workers: 2,
        replaySeconds: options.replaySeconds,
      }),
      ctx,
      {
        onState: options.onState,
        onEvent: options.onEvent,
        aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
          if (fn !== 'RestoreReplay') return run();
          if (++replays === 1) await options.beforeReplay?.(database);
          if (replays === duplicateAt) {
            // The same invocation twice at once (Step Functions retrying one whose answer was lost
            // while it still runs): the second waits for the first, then carries on after it.
            const both = (await Promise.all([run(), run()])) as ReplayProgress[];
            both.sort((a, b) => a.transactions - b.transactions);
            calls.push(...both);
            return both[1] as T;
          }
          const result = await run();
          calls.push(result as ReplayProgress);
          // A fake fault, said so: an invocation that committed its transactions and then died
          // before Step Functions got its answer (a Lambda timeout, a lost response). In-process
          // nothing else can end an invocation between its commit and its return. The ASL retries
          // it; the retry must apply nothing twice.
          if (retryAfterCommit === replays) throw new TransientError('the replay invocation died after its commit');
          return result;
        },
      },
    );
    const contents = await tableContents((q) => server.sql(q, database));
    return { output, contents, replays, calls, database };
  }
  let retryAfterCommit = 0;
  let duplicateAt = 0;

  beforeAll(async () => {
    const url = await server.createDatabase(db);
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE TABLE stock (item int PRIMARY KEY, qty int NOT NULL);
      CREATE TABLE orders (id bigserial PRIMARY KEY, item int NOT NULL, qty int NOT NULL);
      CREATE TABLE notes (k int, note text); ALTER TABLE notes REPLICA IDENTITY FULL;
      INSERT INTO stock SELECT g, 1000 FROM generate_series(1, 5) g;
      INSERT INTO notes VALUES (0, 'opening');
      CREATE TABLE scratch (id int PRIMARY KEY); INSERT INTO scratch SELECT generate_series(1, 10)`);
    ctx = await open();
    ctx.credentials.register('source', url);
    await createCollection(ctx, {
      name: db,
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    const session = await ctx.databases.connect({ credentials: 'source' });
    const streamSession = await ctx.databases.connect({ credentials: 'source' });
    try {
      await enablePitr(session, new LogicalSlotStream(streamSession), ctx.storage, db);
    } finally {
      await Promise.all([session.close(), streamSession.close()]);
    }
    for (let n = 0; n < 3; n++) await order(n);
    await runStateMachine(
      'backup',
      backupRunInput({ source: { credentials: 'source' }, collection: db, workers: 2, snapshotHoldSeconds: 3600 }),
      ctx,
    );
    for (let n = 3; n < 8; n++) await order(n);
    // DDL in one transaction, amid the orders: a chained replay crosses it (a table of the backup dropped).
    await client.query(
      'CREATE TABLE later (id int PRIMARY KEY); INSERT INTO later VALUES (1), (2); DROP TABLE scratch; ALTER TABLE notes ADD COLUMN extra int DEFAULT 7',
    );
    for (let n = 8; n < 12; n++) await order(n);
    await archive();
    // Written more, then archived again: the point lies between the two archive runs.
    for (let n = 12; n < 18; n++) await order(n);
    const xid = await order(18);
    const contents = await tableContents((q) => client.query(q));
    const { rows } = await client.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
    );
    point = { xid, time: rows[0].t, contents };
    await new Promise((r) => setTimeout(r, 20));
    for (let n = 19; n < 26; n++) await order(n);
    await archive();
  }, 180_000);

  afterAll(async () => {
    await client?.end();
  });

  it('restores to a time between two archive runs: the target is the source as it was then, and the point reached is recorded', async () => {
    const states: string[] = [];
    const { output, contents, replays } = await restore(point.time, {
      onState: (e) => e.type === 'StateEntered' && e.state && states.push(e.state),
    });
    expect(contents).toEqual(point.contents);
    expect(Object.keys(contents).sort()).toEqual(['later', 'notes', 'orders', 'stock']);
    // Inclusive: the last commit before the time is the point reached, named exactly.
    expect(output.pointInTime?.reached.xid).toBe(point.xid);
    expect(output.pointInTime?.transactions).toBe(17); // orders 3 … 18 and the DDL: the backup held orders 0 … 2
    expect(replays).toBe(1);
    // The base is verified against its manifest before the replay changes it.
    expect(states.indexOf('Verify')).toBeLessThan(states.indexOf('ReplayChanges'));
    expect(states.indexOf('ReplayChanges')).toBeLessThan(states.indexOf('Complete'));
    const record = await ctx.catalog.getRestore(output.restoreId);
    expect(record).toMatchObject({ state: 'committed', pointInTime: { reached: output.pointInTime!.reached } });
  }, 120_000);

  it('a budget of 0 s chains an invocation per transaction; one retried after its commit, or run twice at once, applies nothing twice', async () => {
    retryAfterCommit = 4;
    duplicateAt = 8;
    try {
      const { output, contents, replays, calls } = await restore(`xid:${point.xid}`, { replaySeconds: 0 });
      expect(contents).toEqual(point.contents);
      expect(output.pointInTime?.reached.xid).toBe(point.xid);
      expect(output.pointInTime?.transactions).toBe(17);
      // One transaction per invocation: the 5th call is the retry of the 4th, which had committed
      // its transaction, so it goes on with the 5th transaction, not the 4th again; the 8th ran
      // twice at once, and the two applied the 8th and the 9th.
      expect(replays).toBe(16);
      expect(calls.map((c) => c.transactions)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
      expect(calls.map((c) => c.done)).toEqual([...Array(16).fill(false), true]);
      expect(new Set(calls.map((c) => c.reached!.xid)).size).toBe(17);
      expect(calls.at(-1)!.countedTables).toBeGreaterThan(0);
    } finally {
      retryAfterCommit = 0;
      duplicateAt = 0;
    }
  }, 180_000);

  it('a replay session killed inside a transaction (the target ends it) loses that transaction only, and the retry applies it once', async () => {
    const { output, contents, calls } = await restore(`xid:${point.xid}`, {
      replaySeconds: 0,
      // A real fault, not a fake one: an ALWAYS trigger (it fires under session_replication_role
      // = replica) terminates the replay's own session at the 6th replayed order, once (a
      // sequence does not roll back), as a Lambda that dies loses its connection mid-transaction.
      beforeReplay: async (database) => {
        await server.sql(
          `CREATE SEQUENCE kill_once;
           CREATE FUNCTION kill_replay() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF nextval('kill_once') = 6 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$;
           CREATE TRIGGER kill_replay BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION kill_replay();
           ALTER TABLE orders ENABLE ALWAYS TRIGGER kill_replay`,
          database,
        );
      },
    });
    expect(contents).toEqual(point.contents);
    expect(output.pointInTime?.transactions).toBe(17);
    // The killed call returned nothing; its retry applied the 6th order's transaction, once.
    expect(calls.map((c) => c.transactions)).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
    const [{ n }] = (await server.sql('SELECT last_value::int AS n FROM kill_once', `${db}_at_${restores}`)).rows;
    expect(n).toBe(17); // the trigger ran for 17 inserts of 16 orders: the 6th was killed and redone
  }, 180_000);

  it('a replay that fails leaves the target partial and says to resume; the resume goes on from its last commit, without verifying replayed tables again', async () => {
    const events: PublishedEvent[] = [];
    await expect(
      restore(`xid:${point.xid}`, {
        replaySeconds: 0,
        onEvent: (e) => events.push(e),
        // The 6th replayed order is refused: six transactions (five orders and the DDL) have
        // committed, one per invocation.
        beforeReplay: async (database) => {
          await server.sql(
            `CREATE SEQUENCE refuse_at;
             CREATE FUNCTION refuse_replay() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN IF nextval('refuse_at') >= 6 THEN RAISE EXCEPTION 'refused by a trigger of the target' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER refuse_replay BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_replay();
             ALTER TABLE orders ENABLE ALWAYS TRIGGER refuse_replay`,
            database,
          );
        },
      }),
    ).rejects.toThrow(/refused by a trigger of the target/);
    const failed = events.find((e) => e.detailType === 'RestoreFailed')?.detail as { restoreId: string };
    expect(failed).toMatchObject({
      targetDatabase: 'partial',
      next: expect.stringContaining(`tidemark restore --resume ${failed.restoreId}`),
    });
    const database = `${db}_at_${restores}`;
    // The cause fixed, the restore resumed: "to" and "collection" come from its catalog record.
    await server.sql('DROP TRIGGER refuse_replay ON orders; DROP FUNCTION refuse_replay()', database);
    const calls: ReplayProgress[] = [];
    const states: string[] = [];
    const output: CompleteOutput = await runStateMachine(
      'restore',
      restoreRunInput({ resume: failed.restoreId, target: { credentials: database }, workers: 2, replaySeconds: 0 }),
      ctx,
      {
        onState: (e) => e.type === 'StateEntered' && e.state && states.push(e.state),
        aroundTask: async <T>(fn: string, run: () => Promise<T>): Promise<T> => {
          const result = await run();
          if (fn === 'RestoreReplay') calls.push(result as ReplayProgress);
          return result;
        },
      },
    );
    expect(await tableContents((q) => server.sql(q, database))).toEqual(point.contents);
    expect(output.pointInTime).toMatchObject({ reached: { xid: point.xid }, transactions: 17 });
    // Verify ran (its batches saw the replay had begun and left the tables to it); nothing was applied twice.
    expect(states).toContain('Verify');
    expect(output.verified).toBe(true);
    expect(calls.map((c) => c.transactions)).toEqual(Array.from({ length: 11 }, (_, i) => i + 7));
    expect(calls.at(-1)!.countedTables).toBeGreaterThan(0);
    expect((await ctx.catalog.getRestore(output.restoreId))?.state).toBe('committed');
    expect((await ctx.catalog.getRestore(failed.restoreId))?.state).toBe('failed');
  }, 180_000);

  it('a restore to a point of no chain is refused by Resolve, naming what is reachable', async () => {
    await expect(restore('xid:1')).rejects.toThrow(/Transaction 1 is not in the change archive.*Reachable: from/s);
  }, 60_000);
});

describe('the point-in-time fields of the restore input', () => {
  const target = { credentials: 'target' };
  it('take "collection" and "to" together, in place of a backup, with a target the CLI accepts', () => {
    const run = parseRestoreRunInput(restoreRunInput({ collection: 'shop', to: 'lsn:0/16B3748', target }));
    expect(run).toMatchObject({ collection: 'shop', to: 'lsn:0/16B3748' });
    expect(run.backup).toBeUndefined();
    expect(() => parseRestoreRunInput({ to: 'latest', target })).toThrow(/"to" and "collection" go together/);
    expect(() => parseRestoreRunInput({ collection: 'shop', to: 'latest', backup: 'latest', target })).toThrow(
      /picks its backup itself/,
    );
    expect(() => parseRestoreRunInput({ collection: 'shop', to: 'latest', resume: 'r-1', target })).toThrow(
      /a resumed restore replays to the point of the restore it resumes/,
    );
    expect(() => parseRestoreRunInput({ collection: 'shop', to: '2026-12-06 23:20', target })).toThrow(
      /to: an ISO-8601 time with its zone/,
    );
    expect(() =>
      parseRestoreRunInput({ collection: 'shop', to: 'latest', target, options: { replaySeconds: 900 } }),
    ).toThrow(/replaySeconds/);
  });
});
