// The oracle of point-in-time restore is PostgreSQL's own PITR (issue 13, acceptance): one
// PostgreSQL 15 source archives its WAL (cp) for a physical base backup while Tidemark archives
// its changes; a bank workload of transfers with a ledger runs, with DDL, a keyless table under
// REPLICA IDENTITY FULL, a TRUNCATE, a rolled-back savepoint and a large transaction in the
// middle. For targets by xid, time and lsn, the physical copy recovered with recovery_target_*
// and the database Tidemark restores with --to the same target hold the same tables and rows.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startArchivingSource, tableContents, type ArchivingSource } from '../support/pitr-physical.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { openPitrSource, type PitrSource } from '../support/pitr-source.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { RestoreTargetError } from '#core/errors.ts';

let source: ArchivingSource;
let targets: PostgresServer;
let pitr: PitrSource;
let repo: string;
let client: pg.Client;
const points: { name: string; tidemark: string; postgres: string }[] = [];

const ACCOUNTS = 40;

async function transfer(n: number): Promise<string> {
  const from = ((n * 7) % ACCOUNTS) + 1;
  const to = ((n * 13 + 5) % ACCOUNTS) + 1;
  await client.query('BEGIN');
  await client.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [from, (n % 17) + 1]);
  await client.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [to, (n % 17) + 1]);
  const { rows } = await client.query(
    'INSERT INTO ledger (from_id, to_id, amount) VALUES ($1, $2, $3) RETURNING txid_current()::text AS xid',
    [from, to, (n % 17) + 1],
  );
  await client.query('COMMIT');
  return rows[0].xid;
}

async function transfers(from: number, count: number): Promise<string> {
  let xid = '';
  for (let i = from; i < from + count; i++) xid = await transfer(i);
  return xid;
}

/** A time between two commits, as PostgreSQL's recovery_target_time and as Tidemark's ISO target. */
async function timeBetweenCommits(): Promise<{ tidemark: string; postgres: string }> {
  await new Promise((r) => setTimeout(r, 30));
  const { rows } = await client.query(
    `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t`,
  );
  await new Promise((r) => setTimeout(r, 30));
  return { postgres: `${rows[0].t}+00`, tidemark: `${rows[0].t.replace(' ', 'T')}Z` };
}

beforeAll(async () => {
  [source, targets] = await Promise.all([startArchivingSource(), startPostgres()]);
  await source.sql('CREATE DATABASE bank');
  client = new pg.Client({ connectionString: source.url('bank') });
  await client.connect();
  await client.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);
    CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount int NOT NULL);
    INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, ${ACCOUNTS}) g`);
  repo = await tempRepository();
  pitr = await openPitrSource(repo, source.url('bank'));
  await createCollection(pitr.ctx, {
    name: 'bank',
    source: withoutPassword(source.url('bank')),
    sourceDescription: describeUrl(source.url('bank')),
    retention: {},
  });
  await enablePitr(pitr.session, pitr.stream, pitr.ctx.storage, 'bank');
  await source.baseBackup();

  // Transfers commit while Tidemark's backup takes its snapshot: the replay must skip exactly those it saw.
  let running = true;
  const during = (async () => {
    for (let i = 0; running; i++) await transfer(1000 + i);
  })();
  await runBackup(repo, source.url('bank'), { collection: 'bank', workers: 2 });
  running = false;
  await during;

  points.push({ name: 'xid before any DDL', ...same(`xid:${await transfers(0, 30)}`, 'xid') });
  await client.query('CREATE TABLE audit (id int PRIMARY KEY, note text)');
  await client.query("INSERT INTO audit SELECT g, 'n' || g FROM generate_series(1, 100) g");
  points.push({
    name: 'xid after a table was created and filled, before a column and an index',
    ...same(`xid:${await transfers(100, 5)}`, 'xid'),
  });
  await client.query("ALTER TABLE accounts ADD COLUMN owner text NOT NULL DEFAULT 'bank'");
  await client.query('CREATE INDEX ledger_to ON ledger (to_id)');
  await transfers(30, 20);
  const t1 = await timeBetweenCommits();
  points.push({
    name: 'time after a table, a column and an index were added',
    tidemark: t1.tidemark,
    postgres: `recovery_target_time = '${t1.postgres}'`,
  });
  await client.query('CREATE TABLE loose (a int, b text); ALTER TABLE loose REPLICA IDENTITY FULL');
  await client.query("INSERT INTO loose VALUES (1, 'x'), (1, 'x'), (2, NULL)");
  await client.query(
    "UPDATE loose SET b = 'y' WHERE a = 2; DELETE FROM loose WHERE ctid = (SELECT min(ctid) FROM loose WHERE a = 1)",
  );
  await client.query('BEGIN');
  await client.query("UPDATE accounts SET owner = 'savepoint' WHERE id = 1");
  await client.query('SAVEPOINT s');
  await client.query('DELETE FROM ledger');
  await client.query('ROLLBACK TO SAVEPOINT s');
  await client.query('COMMIT');
  await transfers(50, 10);
  const { rows: lsn } = await client.query('SELECT pg_current_wal_lsn()::text AS lsn');
  points.push({
    name: 'lsn after the keyless table and the savepoint',
    tidemark: `lsn:${lsn[0].lsn}`,
    postgres: `recovery_target_lsn = '${lsn[0].lsn}'`,
  });
  await client.query('ALTER TABLE accounts DROP COLUMN owner');
  await client.query('DROP TABLE audit');
  await client.query('TRUNCATE loose');
  await transfers(110, 5);
  const t2 = await timeBetweenCommits();
  points.push({
    name: 'time after a column and a table were dropped and a TRUNCATE, before the large transaction',
    tidemark: t2.tidemark,
    postgres: `recovery_target_time = '${t2.postgres}'`,
  });
  await client.query(
    'INSERT INTO ledger (from_id, to_id, amount) SELECT g % 40 + 1, (g + 1) % 40 + 1, 1 FROM generate_series(1, 1000000) g',
  );
  points.push({
    name: 'xid after 1,000,000 rows in one transaction',
    ...same(`xid:${await transfers(60, 10)}`, 'xid'),
  });
  await transfers(70, 10);

  const archived = await archiveChanges(pitr.stream, pitr.ctx.storage, 'bank');
  expect(archived.changes).toBeGreaterThan(1_000_000);
  await source.archiveAll();
}, 300_000);

function same(target: string, kind: 'xid'): { tidemark: string; postgres: string } {
  return { tidemark: target, postgres: `recovery_target_${kind} = '${target.slice(4)}'` };
}

afterAll(async () => {
  await client?.end();
  await pitr?.close();
  await Promise.all([source?.destroy(), targets?.stop()]);
});

test('Tidemark restores to each target exactly what PostgreSQL recovers to it', async () => {
  expect(points.length).toBeGreaterThanOrEqual(6);
  const ledgerRows: number[] = [];
  for (const [i, point] of points.entries()) {
    const physical = await source.recoverTo(point.postgres);
    const expected = await tableContents((q) => physical.sql(q, 'bank'));
    await physical.stop();
    const url = targets.url(`at_${i}`);
    pitr.ctx.credentials.register(`at_${i}`, url);
    const result = await restoreToPoint(
      {
        collection: 'bank',
        target: parseTarget(point.tidemark),
        into: { credentials: `at_${i}` },
        restoreBackup: async (id) => void (await runRestore(repo, id, url)),
      },
      pitr.ctx,
    );
    expect(result.replay.transactions, point.name).toBeGreaterThan(0);
    // Transfers that committed before the backup's snapshot are in the archive too, and skipped.
    expect(result.replay.skipped, point.name).toBeGreaterThan(0);
    ledgerRows.push(expected['ledger']!.length);
    const actual = await tableContents((q) => targets.sql(q, `at_${i}`));
    expect(Object.keys(actual), point.name).toEqual(Object.keys(expected));
    for (const table of Object.keys(expected))
      expect(actual[table], `${point.name}: ${table}`).toEqual(expected[table]);
    // The ledger's sequence hands out ids above every replayed row's.
    const ids = await targets.sql("SELECT nextval('ledger_id_seq') > (SELECT max(id) FROM ledger) AS above", `at_${i}`);
    expect(ids.rows[0].above, point.name).toBe(true);
    // Tidemark's own objects never reach a target.
    const { rows } = await targets.sql(
      "SELECT count(*)::int AS n FROM pg_proc WHERE proname LIKE 'tidemark%'",
      `at_${i}`,
    );
    expect(rows[0].n).toBe(0);
  }
  // Each target is a different state: the comparison is not of one state six times.
  expect(ledgerRows).toEqual([...ledgerRows].sort((a, b) => a - b));
  expect(new Set(ledgerRows).size).toBe(ledgerRows.length);
}, 600_000);

test('a target after the last archived commit or before the first backup is refused with the reachable points', async () => {
  const after = await restoreToPoint(
    {
      collection: 'bank',
      target: parseTarget('2999-01-01T00:00:00Z'),
      into: { credentials: 'none' },
      restoreBackup: async () => {},
    },
    pitr.ctx,
  ).catch((e) => e);
  expect(after).toBeInstanceOf(RestoreTargetError);
  expect(after.message).toMatch(
    /is after the last archived commit\. Reachable: from .* \(xid:\d+, lsn:[0-9A-F/]+\) to /,
  );
  const before = await restoreToPoint(
    { collection: 'bank', target: parseTarget('xid:3'), into: { credentials: 'none' }, restoreBackup: async () => {} },
    pitr.ctx,
  ).catch((e) => e);
  expect(before).toBeInstanceOf(RestoreTargetError);
  expect(before.message).toContain('Transaction 3 is not in the change archive');
});
