// The point-in-time recovery commands as a user runs them: pitr enable (preflight, then slot,
// DDL capture and base backup), archive, status, restore --collection --to, disable.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tempRepository } from '../support/pipeline.ts';
import { runCli, describeResult } from '../support/cli.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { openLocalContext } from '#local/local-context.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('enable, archive, status, restore --to latest and an xid, disable', async () => {
  const url = await server.createDatabase('shop');
  await server.sql(
    'CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2), note text); CREATE TABLE tags (name text)',
    'shop',
  );
  const repo = await tempRepository();
  const env = { PGPASSWORD: 'tidemark-test-password' };
  const cli = (...args: string[]) => runCli([...args, '--repo', repo, '--json'], { env });
  const created = await cli('collection', 'create', 'shop', '--source', url);
  expect(created.code, describeResult(created)).toBe(0);

  const refused = await cli('pitr', 'enable', '--collection', 'shop');
  expect(refused.code).toBe(2);
  expect(refused.json.error.message).toContain(
    'table tags has no primary key and no replica identity index: its updates and deletes cannot be replayed exactly: ALTER TABLE tags ADD PRIMARY KEY (…); or ALTER TABLE tags REPLICA IDENTITY FULL;',
  );

  expect(refused.json.error.message).toContain('--replica-identity-full sets REPLICA IDENTITY FULL on those tables');
  const enabled = await cli('pitr', 'enable', '--collection', 'shop', '--replica-identity-full');
  expect(enabled.code, describeResult(enabled)).toBe(0);
  expect(enabled.json).toMatchObject({ ok: true, slot: 'tidemark_shop', replicaIdentityFull: ['tags'] });
  expect(
    (await server.sql("SELECT relreplident FROM pg_class WHERE relname = 'tags'", 'shop')).rows[0].relreplident,
  ).toBe('f');
  expect(enabled.json.backupId).toMatch(/^\d{8}T\d{6}Z-/);

  await server.sql(
    "INSERT INTO orders SELECT g, g * 1.5, 'o' || g FROM generate_series(1, 300) g; INSERT INTO tags VALUES ('a'), ('b')",
    'shop',
  );
  const [{ xid }] = (
    (await server.sql(
      "BEGIN; UPDATE orders SET note = 'it''s \"quoted\"' WHERE id < 10; SELECT txid_current()::text AS xid; COMMIT",
      'shop',
    )) as any
  )[2].rows;
  await server.sql(
    "DELETE FROM orders WHERE id > 250; UPDATE tags SET name = 'c' WHERE name = 'a'; ALTER TABLE orders ADD COLUMN paid boolean DEFAULT false",
    'shop',
  );

  const archived = await cli('pitr', 'archive', '--collection', 'shop');
  expect(archived.code, describeResult(archived)).toBe(0);
  expect(archived.json.changes).toBe(300 + 2 + 9 + 50 + 1);
  // Each segment the CLI wrote is in the catalog too (segment → catalog record → slot), the
  // chain's opening one included, and the last names the last archived commit.
  const catalog = (await openLocalContext(repo, { create: false })).catalog;
  const records = await catalog.listSegments('shop');
  expect(records.map((r) => r.part)[0]).toBe(0);
  expect(records.length).toBeGreaterThanOrEqual(2);
  expect(records.filter((r) => r.lastCommit).at(-1)?.lastCommit).toEqual(archived.json.lastCommit);
  expect(records.at(-1)?.endLsn).toBe(archived.json.endLsn);
  expect(records.reduce((n, r) => n + r.changes, 0)).toBe(archived.json.changes);

  const status = await cli('pitr', 'status', '--collection', 'shop');
  expect(status.code, describeResult(status)).toBe(0);
  expect(status.json.objects).toEqual([
    'replication slot tidemark_shop',
    'event trigger tidemark_ddl_shop',
    'function public.tidemark_ddl_shop()',
  ]);
  expect(status.json.chains).toHaveLength(1);
  expect(status.json.chains[0].lastCommit).toEqual(archived.json.lastCommit);
  expect(status.json.slot.confirmedLsn).toBe(archived.json.endLsn);
  // Read by a person: each chain with the WAL timeline it was archived on.
  const told = await runCli(['pitr', 'status', '--collection', 'shop', '--repo', repo], { env });
  expect(told.code, describeResult(told)).toBe(0);
  expect(told.stdout + told.stderr).toContain(`chain ${status.json.chains[0].chain} (timeline 00000001): `);

  const latest = await cli('restore', '--collection', 'shop', '--to', 'latest', '--target', server.url('shop_latest'));
  expect(latest.code, describeResult(latest)).toBe(0);
  expect(latest.json.reached).toEqual(archived.json.lastCommit);
  expect(await tableContents((q) => server.sql(q, 'shop_latest'))).toEqual(
    await tableContents((q) => server.sql(q, 'shop')),
  );

  const atXid = await cli('restore', '--collection', 'shop', '--to', `xid:${xid}`, '--target', server.url('shop_xid'));
  expect(atXid.code, describeResult(atXid)).toBe(0);
  const orders = await server.sql(
    "SELECT count(*)::int AS n, count(*) FILTER (WHERE note LIKE 'it''s%')::int AS quoted FROM orders",
    'shop_xid',
  );
  expect(orders.rows[0]).toEqual({ n: 300, quoted: 9 });

  const disabled = await cli('pitr', 'disable', '--collection', 'shop');
  expect(disabled.code, describeResult(disabled)).toBe(0);
  expect((await server.sql('SELECT count(*)::int AS n FROM pg_replication_slots', 'shop')).rows[0].n).toBe(0);
}, 120_000);
