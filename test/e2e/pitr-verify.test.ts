// Replay is verified (issue 13, item 5): each replayed UPDATE/DELETE touches exactly one row, and
// each table the replay changed ends with the backup's rows + inserts − deletes (from zero after a
// TRUNCATE or for a table replayed DDL created, followed through a rename). A target that does not
// hold what the archive expects fails the restore, naming the table and the transaction.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { openPitrSource } from '../support/pitr-source.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { VerificationError } from '#core/errors.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('row counts after replay match the archive; a target changed outside it fails naming table and transaction', async () => {
  const url = await server.createDatabase('ver');
  await server.sql(
    `CREATE TABLE acct (id int PRIMARY KEY, bal int);
     CREATE TABLE note (body text);
     CREATE TABLE scratch (id int PRIMARY KEY);
     CREATE TABLE person (id int PRIMARY KEY, email text UNIQUE); INSERT INTO person VALUES (1, 'a'), (2, 'b');
     INSERT INTO acct VALUES (0, 0); INSERT INTO note VALUES ('kept'), ('kept'); INSERT INTO scratch SELECT generate_series(1, 50)`,
    'ver',
  );
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const xidOf = async (sql: string) => {
    await client.query('BEGIN');
    await client.query(sql);
    const xid = (await client.query('SELECT txid_current()::text AS xid')).rows[0].xid as string;
    await client.query('COMMIT');
    return xid;
  };
  try {
    await createCollection(src.ctx, {
      name: 'ver',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'ver', { replicaIdentityFull: true });
    await runBackup(repo, url, { collection: 'ver', workers: 1 });

    await xidOf('INSERT INTO acct SELECT g, g FROM generate_series(1, 100) g');
    await xidOf('UPDATE acct SET bal = bal + 1 WHERE id BETWEEN 1 AND 10; DELETE FROM acct WHERE id BETWEEN 91 AND 95');
    const noteXid = await xidOf(
      "INSERT INTO note VALUES ('a'), ('b'), ('kept'); DELETE FROM note WHERE ctid = (SELECT ctid FROM note WHERE body = 'kept' LIMIT 1)",
    );
    await xidOf(
      'CREATE TABLE fresh (id int PRIMARY KEY); INSERT INTO fresh SELECT generate_series(1, 20); DELETE FROM fresh WHERE id > 17',
    );
    await xidOf('INSERT INTO scratch VALUES (51); TRUNCATE scratch; INSERT INTO scratch VALUES (1), (2)');
    await xidOf('ALTER TABLE note RENAME TO journal');
    await xidOf("INSERT INTO journal VALUES ('c')");
    await xidOf('CREATE TABLE gone (id int PRIMARY KEY); INSERT INTO gone VALUES (1)');
    await xidOf('DROP TABLE gone');
    // Batched replay: one key twice in a transaction, a key change, tables interleaved.
    await xidOf(
      "UPDATE acct SET bal = bal + 1 WHERE id = 5; INSERT INTO journal VALUES ('d'); UPDATE acct SET bal = bal + 1 WHERE id = 5; UPDATE acct SET id = 300 WHERE id = 6; DELETE FROM acct WHERE id = 7; INSERT INTO acct VALUES (7, 7)",
    );
    // Two emails swapped through a third value: replayed one by one (a unique index besides the key).
    await xidOf(
      "UPDATE person SET email = 'x' WHERE id = 1; UPDATE person SET email = 'a' WHERE id = 2; UPDATE person SET email = 'b' WHERE id = 1",
    );
    const lastAcct = await xidOf('UPDATE acct SET bal = -1 WHERE id = 0; INSERT INTO acct VALUES (200, 0)');
    await archiveChanges(src.stream, src.ctx.storage, 'ver');

    const restore = async (name: string, tamper?: string, to = 'latest') => {
      const into = server.url(name);
      src.ctx.credentials.register(name, into);
      return restoreToPoint(
        {
          collection: 'ver',
          target: parseTarget(to),
          into: { credentials: name },
          restoreBackup: async (id) => {
            await runRestore(repo, id, into);
            if (tamper) await server.sql(tamper, name);
          },
        },
        src.ctx,
      );
    };

    const good = await restore('ver_good');
    // acct, note (as journal), fresh, scratch, person; gone was dropped by a later transaction.
    expect(good.replay.countedTables).toBe(5);
    expect(await tableContents((q) => server.sql(q, 'ver_good'))).toEqual(
      await tableContents((q) => server.sql(q, 'ver')),
    );

    // Before the first DDL: note (REPLICA IDENTITY FULL) is followed by content checksum too.
    const early = await restore('ver_early', undefined, `xid:${noteXid}`);
    expect(early.replay).toMatchObject({ countedTables: 2, checksummedTables: 1 });
    const forged = await restore(
      'ver_forged',
      "UPDATE note SET body = 'forged' WHERE ctid = (SELECT ctid FROM note LIMIT 1)",
      `xid:${noteXid}`,
    ).catch((e) => e);
    expect(forged).toBeInstanceOf(VerificationError);
    expect(forged.message).toMatch(
      new RegExp(
        `^After replay, table \"public\"\\.\"note\" holds 4 rows with checksum [0-9a-f]{16} where the backup and the archive say 4 rows with checksum [0-9a-f]{16} \\(the last transaction that changed it: ${noteXid}\\)`,
      ),
    );

    const extra = await restore('ver_extra', 'INSERT INTO acct VALUES (10000, 0)').catch((e) => e);
    expect(extra).toBeInstanceOf(VerificationError);
    expect(extra.message).toContain(
      `After replay, table acct holds 98 rows where the backup and the archive say 97 (the last transaction that changed it: ${lastAcct})`,
    );

    const missing = await restore('ver_missing', 'DELETE FROM acct WHERE id = 0').catch((e) => e);
    expect(missing).toBeInstanceOf(VerificationError);
    expect(missing.message).toContain(
      `Replay of transaction ${lastAcct}: its UPDATE of one row of public.acct (key ["0"]) touched 0 rows`,
    );
  } finally {
    await client.end();
    await src.close();
  }
}, 180_000);

test('batched updates and deletes find their rows across key and value types, names that need quotes, and user types', async () => {
  const url = await server.createDatabase('kinds');
  await server.sql(
    `CREATE SCHEMA "Odd Schema";
     CREATE TYPE "Odd Schema"."Mood" AS ENUM ('sad', 'ok', 'happy');
     CREATE TABLE "Odd Schema"."Wide Table" (
       "Region" text, n int, flags bit(3), amount numeric(10,2), id uuid, mood "Odd Schema"."Mood",
       tags text[], doc jsonb, at timestamptz, "Note" varchar(20), PRIMARY KEY ("Region", n));
     CREATE TABLE bits (b bit(3) PRIMARY KEY, v int)`,
    'kinds',
  );
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  try {
    await createCollection(src.ctx, {
      name: 'kinds',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'kinds');
    await server.sql(
      `INSERT INTO "Odd Schema"."Wide Table"
         SELECT CASE WHEN g % 2 = 0 THEN 'north' ELSE 'it''s "south"' END, g, B'101', g * 1.25, gen_random_uuid(), 'ok',
                ARRAY['a', 'b,c', NULL], jsonb_build_object('g', g), '2026-12-07 01:02:03+00', 'n' || g
           FROM generate_series(1, 60) g;
       INSERT INTO bits VALUES (B'001', 1), (B'010', 2), (B'011', 3)`,
      'kinds',
    );
    await runBackup(repo, url, { collection: 'kinds', workers: 1 });
    await server.sql(
      `BEGIN;
       UPDATE "Odd Schema"."Wide Table" SET flags = B'011', amount = amount + 0.01, mood = 'happy', tags = ARRAY['x\ty'], doc = doc || '{"u": true}', at = at + interval '1 day', "Note" = 'tab\there' WHERE n <= 40;
       UPDATE bits SET v = v * 10;
       DELETE FROM "Odd Schema"."Wide Table" WHERE n > 50;
       DELETE FROM bits WHERE b = B'010';
       COMMIT`,
      'kinds',
    );
    await archiveChanges(src.stream, src.ctx.storage, 'kinds');
    const into = server.url('kinds_latest');
    src.ctx.credentials.register('latest', into);
    const restored = await restoreToPoint(
      {
        collection: 'kinds',
        target: parseTarget('latest'),
        into: { credentials: 'latest' },
        restoreBackup: async (id) => void (await runRestore(repo, id, into)),
      },
      src.ctx,
    );
    expect(restored.replay).toMatchObject({ changes: 40 + 3 + 10 + 1, countedTables: 2 });
    const contents = (db: string) =>
      server.sql(
        `SELECT (SELECT array_agg(w::text ORDER BY "Region", n) FROM "Odd Schema"."Wide Table" w) AS wide,
                (SELECT array_agg(b::text ORDER BY b) FROM bits b) AS bits`,
        db,
      );
    expect((await contents('kinds_latest')).rows).toEqual((await contents('kinds')).rows);
  } finally {
    await src.close();
  }
}, 180_000);
