// The manifest records the backup's whole snapshot (xmin:xmax:xip), which point-in-time replay
// uses to decide which archived transactions the backup already holds (FORMAT.md,
// "Point-in-time recovery").
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { readManifest } from '#core/repository/manifest.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

test('the manifest records the snapshot with the transactions in progress at its start', async () => {
  const url = await server.createDatabase('snap');
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', 'snap');
  const open = new pg.Client({ connectionString: url });
  await open.connect();
  try {
    await open.query('BEGIN');
    await open.query('INSERT INTO t VALUES (1)');
    const [{ xid }] = (await open.query('SELECT pg_catalog.txid_current()::text AS xid')).rows;
    // A later transaction that commits moves xmax past the open one, which must then be in xip.
    await server.sql('INSERT INTO t VALUES (2)', 'snap');
    const repo = await tempRepository();
    const { output, ctx } = await runBackup(repo, url, { workers: 1 });
    const manifest = await readManifest(ctx.storage, output.backupId);
    const [xmin, xmax, xip] = manifest.snapshot.txidSnapshot!.split(':');
    expect(xmin).toBe(manifest.snapshot.xmin);
    expect(BigInt(xmax!)).toBeGreaterThan(BigInt(xid));
    expect(xip!.split(',')).toContain(xid);
    expect(manifest.tables.find((t) => t.name === 't')!.rows).toBe(1);
  } finally {
    await open.query('ROLLBACK');
    await open.end();
  }
});
