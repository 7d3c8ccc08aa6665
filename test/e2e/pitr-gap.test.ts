// Gaps are never bridged in silence (invariant 13): a dropped slot stops the archiver with a
// gap error; after a new enable the archive has two chains, a target between them is refused
// naming each chain's window, and targets in either chain restore exactly.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { openPitrSource } from '../support/pitr-source.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr, disablePitr } from '#core/pitr/enable.ts';
import { archiveChanges, ChangeArchiveGapError } from '#core/pitr/archive.ts';
import { pitrStatus } from '#core/pitr/status.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { RestoreTargetError } from '#core/errors.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('a dropped slot is a gap: archive stops, status shows it, a restore into it is refused, both chains restore', async () => {
  const url = await server.createDatabase('gap');
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', 'gap');
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const insert = async (id: number) =>
    (await client.query('INSERT INTO t VALUES ($1) RETURNING txid_current()::text AS xid', [id])).rows[0].xid as string;
  const clock = async () =>
    (await client.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))
      .rows[0].t as string;
  try {
    await createCollection(src.ctx, {
      name: 'gap',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'gap');
    await runBackup(repo, url, { collection: 'gap', workers: 1 });
    for (let i = 1; i <= 5; i++) await insert(i);
    const inFirst = await insert(6);
    await archiveChanges(src.stream, src.ctx.storage, 'gap');

    await server.sql("SELECT pg_drop_replication_slot('tidemark_gap')", 'gap');
    await insert(7); // never archived: in the gap
    const inGap = await clock();
    await expect(archiveChanges(src.stream, src.ctx.storage, 'gap')).rejects.toThrow(ChangeArchiveGapError);

    await disablePitr(src.session, src.stream, 'gap');
    await enablePitr(src.session, src.stream, src.ctx.storage, 'gap');
    await runBackup(repo, url, { collection: 'gap', workers: 1 });
    await insert(8);
    await archiveChanges(src.stream, src.ctx.storage, 'gap');

    const status = await pitrStatus(src.session, src.stream, src.ctx.storage, 'gap');
    expect(status.chains).toHaveLength(2);
    expect(status.gaps).toHaveLength(1);
    expect(status.gaps[0]!.after < inGap && inGap < status.gaps[0]!.until).toBe(true);

    const refused = await restoreToPoint(
      { collection: 'gap', target: parseTarget(inGap), into: { credentials: 'none' }, restoreBackup: async () => {} },
      src.ctx,
    ).catch((e) => e);
    expect(refused).toBeInstanceOf(RestoreTargetError);
    expect(refused.message).toMatch(/is in no chain of collection gap's change archive: it lies in a gap/);
    expect(refused.message).toMatch(/is before the first archived commit[\s\S]*is after the last archived commit/);

    for (const [name, target, rows] of [
      ['first', `xid:${inFirst}`, 6],
      ['second', 'latest', 8],
    ] as const) {
      const into = server.url(`gap_${name}`);
      src.ctx.credentials.register(name, into);
      await restoreToPoint(
        {
          collection: 'gap',
          target: parseTarget(target),
          into: { credentials: name },
          restoreBackup: async (id) => void (await runRestore(repo, id, into)),
        },
        src.ctx,
      );
      const {
        rows: [r],
      } = await server.sql('SELECT count(*)::int AS n, max(id) AS max FROM t', `gap_${name}`);
      expect(r, `${name} chain`).toEqual({ n: rows, max: rows });
    }
  } finally {
    await client.end();
    await src.close();
  }
}, 60_000);
