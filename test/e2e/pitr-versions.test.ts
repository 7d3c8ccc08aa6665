// Point-in-time restore on the oldest and newest majors Tidemark supports (13 and 18): the
// test_decoding text and the catalogs it relies on are read the same way. The oracle is the
// source itself, read right after the target's commit (one writer, so nothing else commits).
import { describe, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresMajor } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { openPitrSource } from '../support/pitr-source.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';

describe.each([13, 18] as PostgresMajor[])('PostgreSQL %i', (major) => {
  test('restores to an xid and to latest exactly, across types and DDL', async () => {
    const server = await startPostgres({ major, extraFlags: ['-c', 'synchronous_commit=on'] });
    const url = await server.createDatabase('v');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const repo = await tempRepository();
    const src = await openPitrSource(repo, url);
    try {
      await client.query(`CREATE TABLE kinds (id int PRIMARY KEY, t text, n numeric(12,3), at timestamptz, j jsonb, b bytea, a text[], f boolean, u uuid, r real, bits bit varying,
        twice int GENERATED ALWAYS AS (id * 2) STORED);
        CREATE TABLE numbered (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`);
      await createCollection(src.ctx, {
        name: 'v',
        source: withoutPassword(url),
        sourceDescription: describeUrl(url),
        retention: {},
      });
      await enablePitr(src.session, src.stream, src.ctx.storage, 'v');
      await runBackup(repo, url, { collection: 'v', workers: 1 });
      await client.query(`INSERT INTO kinds VALUES
        (1, E'it''s "q" \\\\ back\\nline', 123456789.125, '2026-01-02 03:04:05.678901+02', '{"k": [1, "x y"]}', '\\x00ff10', '{"a b",NULL,"c,d"}', true, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5e-7, B'1011'),
        (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
      await client.query('ALTER TABLE kinds ADD COLUMN extra int DEFAULT 7');
      await client.query("INSERT INTO numbered (v) VALUES ('a'), ('b'); UPDATE numbered SET v = 'c' WHERE id = 1");
      const { rows } = await client.query(
        "UPDATE kinds SET t = 'after', f = false WHERE id = 1 RETURNING txid_current()::text AS xid",
      );
      const atXid = await tableContents((q) => client.query(q));
      await client.query('DELETE FROM kinds WHERE id = 2');
      await client.query('ALTER TABLE kinds DROP COLUMN r');
      await client.query('CREATE INDEX CONCURRENTLY kinds_t ON kinds (t)');
      await client.query("INSERT INTO kinds (id, t) SELECT g, 'bulk' FROM generate_series(3, 500) g");
      await archiveChanges(src.stream, src.ctx.storage, 'v');
      for (const [name, target, expected] of [
        ['xid', `xid:${rows[0].xid}`, atXid],
        ['latest', 'latest', undefined],
      ] as const) {
        const into = server.url(`v_${name}`);
        src.ctx.credentials.register(name, into);
        await restoreToPoint(
          {
            collection: 'v',
            target: parseTarget(target),
            into: { credentials: name },
            restoreBackup: async (id) => void (await runRestore(repo, id, into)),
          },
          src.ctx,
        );
        const actual = await tableContents((q) => server.sql(q, `v_${name}`));
        expect(actual, `${name} on ${major}`).toEqual(expected ?? (await tableContents((q) => client.query(q))));
        const index = await server.sql("SELECT to_regclass('kinds_t') IS NOT NULL AS there", `v_${name}`);
        expect(index.rows[0].there, `index built concurrently at the source, on ${major}`).toBe(name === 'latest');
      }
    } finally {
      await client.end();
      await src.close();
      await server.stop();
    }
  }, 60_000);
});
