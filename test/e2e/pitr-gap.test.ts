// Gaps are never bridged in silence (invariant 13), and the archiver gets past them by itself:
// a dropped, lost (wal_status = lost) or recreated slot makes `pitr archive` record the gap,
// start a new slot and chain, and take the new chain's base backup; `pitr status` shows both
// windows and the gap; a restore into the gap is refused with the nearest reachable points; a
// restore on either side of it is exact.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runRestore, tempRepository } from '../support/pipeline.ts';
import { runCli, describeResult } from '../support/cli.ts';
import { openPitrSource } from '../support/pitr-source.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges, ChangeArchiveGapError } from '#core/pitr/archive.ts';
import { pitrStatus } from '#core/pitr/status.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

/** A source database with table t, a client on it, and helpers that write one row and read the server's clock. */
async function source(name: string) {
  const url = await server.createDatabase(name);
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    client,
    insert: async (id: number) =>
      (await client.query('INSERT INTO t VALUES ($1) RETURNING txid_current()::text AS xid', [id])).rows[0]
        .xid as string,
    clock: async () =>
      (await client.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))
        .rows[0].t as string,
  };
}

async function rowsIn(database: string) {
  return (await server.sql('SELECT count(*)::int AS n, max(id) AS max FROM t', database)).rows[0];
}

test('pitr archive starts a new chain and its base backup after a dropped slot; status, refusal, both sides restore', async () => {
  const db = await source('gapcli');
  const repo = await tempRepository();
  const env = { PGPASSWORD: 'tidemark-test-password' };
  const cli = (...args: string[]) => runCli([...args, '--repo', repo, '--json'], { env });
  try {
    expect((await cli('collection', 'create', 'gapcli', '--source', db.url)).code).toBe(0);
    const enabled = await cli('pitr', 'enable', '--collection', 'gapcli');
    expect(enabled.code, describeResult(enabled)).toBe(0);
    for (let i = 1; i <= 5; i++) await db.insert(i);
    const inFirst = await db.insert(6);
    const first = await cli('pitr', 'archive', '--collection', 'gapcli');
    expect(first.code, describeResult(first)).toBe(0);
    expect(first.json.gap).toBeUndefined();

    await server.sql("SELECT pg_drop_replication_slot('tidemark_gapcli')", 'gapcli');
    await db.insert(7); // committed while no slot existed: in the gap, never archived
    const inGap = await db.clock();
    const healed = await cli('pitr', 'archive', '--collection', 'gapcli');
    expect(healed.code, describeResult(healed)).toBe(0);
    expect(healed.json.gap).toMatchObject({
      reason: 'slot-dropped',
      previousChain: enabled.json.chain,
      previousLastCommit: { xid: inFirst },
      chain: healed.json.chain,
      backupId: expect.stringMatching(/^\d{8}T\d{6}Z-/),
    });
    expect(healed.json.chain).not.toBe(enabled.json.chain);
    expect(
      (
        await server.sql(
          "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name = 'tidemark_gapcli'",
          'gapcli',
        )
      ).rows[0].n,
    ).toBe(1);
    await db.insert(8);
    const second = await cli('pitr', 'archive', '--collection', 'gapcli');
    expect(second.code, describeResult(second)).toBe(0);
    expect(second.json).toMatchObject({ chain: healed.json.chain, transactions: 1 });

    const status = await cli('pitr', 'status', '--collection', 'gapcli');
    expect(status.code, describeResult(status)).toBe(0);
    expect(status.json.chains.map((c: { chain: string }) => c.chain)).toEqual([enabled.json.chain, healed.json.chain]);
    expect(status.json.chains[0].lastCommit.xid).toBe(inFirst);
    expect(status.json.chains[1].lastCommit).toEqual(second.json.lastCommit);
    expect(status.json.chains.map((c: { firstBackup?: { backupId: string } }) => c.firstBackup?.backupId)).toEqual([
      enabled.json.backupId,
      healed.json.gap.backupId,
    ]);
    expect(status.json.gaps).toEqual([
      expect.objectContaining({ reason: 'slot-dropped', previousChain: enabled.json.chain, chain: healed.json.chain }),
    ]);
    expect(status.json.gaps[0].after < inGap && inGap < status.json.gaps[0].until).toBe(true);
    const text = await runCli(['pitr', 'status', '--collection', 'gapcli', '--repo', repo], { env });
    expect(text.stderr).toMatch(/gap \(dropped\) between chain \w+ and chain \w+: nothing restorable after/);

    const refused = await cli('restore', '--collection', 'gapcli', '--to', inGap, '--target', server.url('gapcli_gap'));
    expect(refused.code).not.toBe(0);
    expect(refused.json.error.message).toMatch(
      new RegExp(
        `lies in a gap of collection gapcli's change archive, between chain ${enabled.json.chain} and chain ${healed.json.chain} \\(slot dropped\\)`,
      ),
    );
    expect(refused.json.error.message).toContain(
      `(xid:${inFirst}, lsn:${first.json.lastCommit.lsn}), the last of chain`,
    );

    for (const [name, to, rows] of [
      ['first', `xid:${inFirst}`, 6],
      ['second', 'latest', 8],
    ] as const) {
      const restored = await cli(
        'restore',
        '--collection',
        'gapcli',
        '--to',
        to,
        '--target',
        server.url(`gapcli_${name}`),
      );
      expect(restored.code, describeResult(restored)).toBe(0);
      expect(await rowsIn(`gapcli_${name}`), `${name} chain`).toEqual({ n: rows, max: rows });
    }
    // The restore from the second chain used the backup the archiver took after the gap.
    expect(
      (await cli('restore', '--collection', 'gapcli', '--to', 'latest', '--target', server.url('gapcli_again'))).json
        .backupId,
    ).toBe(healed.json.gap.backupId);
  } finally {
    await db.client.end();
  }
}, 240_000);

test('a lost slot (wal_status = lost) and a recreated slot each start a chain; without a session the archiver refuses instead', async () => {
  const db = await source('gaplost');
  const repo = await tempRepository();
  const src = await openPitrSource(repo, db.url);
  const archive = () => archiveChanges(src.stream, src.ctx.storage, 'gaplost', { session: src.session });
  try {
    await createCollection(src.ctx, {
      name: 'gaplost',
      source: withoutPassword(db.url),
      sourceDescription: describeUrl(db.url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'gaplost');
    await db.insert(1);
    await archive();

    // The server invalidates a slot that holds more WAL than max_slot_wal_keep_size at a checkpoint.
    await server.sql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", 'gaplost');
    await server.sql('SELECT pg_reload_conf()', 'gaplost');
    try {
      for (let i = 0; i < 4; i++)
        await server.sql(`INSERT INTO t VALUES (${100 + i}); SELECT pg_switch_wal()`, 'gaplost');
      await server.sql('CHECKPOINT', 'gaplost');
      expect((await src.stream.slotState('tidemark_gaplost'))?.walStatus).toBe('lost');
      await expect(archiveChanges(src.stream, src.ctx.storage, 'gaplost')).rejects.toThrow(ChangeArchiveGapError);
      const lost = await archive();
      expect(lost.gap).toMatchObject({ reason: 'slot-lost', previousLastCommit: { xid: expect.any(String) } });
    } finally {
      await server.sql('ALTER SYSTEM RESET max_slot_wal_keep_size', 'gaplost');
      await server.sql('SELECT pg_reload_conf()', 'gaplost');
    }
    expect((await src.stream.slotState('tidemark_gaplost'))?.walStatus).not.toBe('lost');
    await db.insert(2);
    await archive();

    await server.sql("SELECT pg_drop_replication_slot('tidemark_gaplost')", 'gaplost');
    await server.sql("SELECT pg_create_logical_replication_slot('tidemark_gaplost', 'test_decoding')", 'gaplost');
    await db.insert(3); // the recreated slot began past the archive's end: this commit is in the gap (the next backup holds it)
    const recreated = await archive();
    expect(recreated.gap?.reason).toBe('slot-recreated');
    // This run began the chain but took no base backup (as if it died first): the next run takes it.
    const next = await runCli(['pitr', 'archive', '--collection', 'gaplost', '--repo', repo, '--json'], {
      env: { PGPASSWORD: 'tidemark-test-password' },
    });
    expect(next.code, describeResult(next)).toBe(0);
    expect(next.json).toMatchObject({ chain: recreated.chain, baseBackupId: expect.stringMatching(/^\d{8}T\d{6}Z-/) });
    const again = await runCli(['pitr', 'archive', '--collection', 'gaplost', '--repo', repo, '--json'], {
      env: { PGPASSWORD: 'tidemark-test-password' },
    });
    expect(again.json.baseBackupId).toBeUndefined();
    await db.insert(4);
    await archive();

    const status = await pitrStatus(src.session, src.stream, src.ctx.storage, 'gaplost');
    expect(status.chains).toHaveLength(3);
    expect(status.gaps.map((g) => g.reason)).toEqual(['slot-lost', 'slot-recreated']);
    expect(status.chains[1]!.gap?.previousChain).toBe(status.chains[0]!.chain);

    const into = server.url('gaplost_latest');
    src.ctx.credentials.register('latest', into);
    const restored = await restoreToPoint(
      {
        collection: 'gaplost',
        target: parseTarget('latest'),
        into: { credentials: 'latest' },
        restoreBackup: async (id) => void (await runRestore(repo, id, into)),
      },
      src.ctx,
    );
    expect(restored.replay.transactions).toBe(1);
    expect((await server.sql('SELECT array_agg(id ORDER BY id) AS ids FROM t', 'gaplost_latest')).rows[0].ids).toEqual([
      1, 2, 3, 4, 100, 101, 102, 103,
    ]);
  } finally {
    await db.client.end();
    await src.close();
  }
}, 240_000);
