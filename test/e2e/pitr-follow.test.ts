// `pitr archive --follow` (issue 13, item 2): a commit is in a sealed segment within about
// --segment-seconds (the RPO, measured here), an idle source's slot still moves on (its
// restart_lsn advances, so the WAL other databases write is recycled), and SIGTERM stops it
// cleanly after sealing what committed before the signal.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tempRepository } from '../support/pipeline.ts';
import { collect, describeResult, runCli, spawnCli } from '../support/cli.ts';
import { archivedSegments } from '../support/pitr-source.ts';
import { openLocalContext } from '#local/local-context.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

const SEGMENT_SECONDS = 2;

test('follow seals each commit within --segment-seconds, moves an idle slot on, and stops cleanly on SIGTERM', async () => {
  const url = await server.createDatabase('follow');
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', 'follow');
  await server.createDatabase('followbusy');
  const repo = await tempRepository();
  const env = { PGPASSWORD: 'tidemark-test-password' };
  expect((await runCli(['collection', 'create', 'follow', '--source', url, '--repo', repo], { env })).code).toBe(0);
  const enabled = await runCli(['pitr', 'enable', '--collection', 'follow', '--no-backup', '--repo', repo], { env });
  expect(enabled.code, describeResult(enabled)).toBe(0);
  const { storage } = await openLocalContext(repo, { create: false });
  const sealedWith = async (id: number) => {
    for (const { segment, records } of await archivedSegments(storage, 'follow'))
      if (records.some((r) => r.k === 'I' && r.new[0]![2] === String(id))) return segment;
    return undefined;
  };
  const insert = async (id: number) =>
    (await server.sql(`INSERT INTO t VALUES (${id}) RETURNING clock_timestamp() AS at`, 'follow')).rows[0].at as Date;
  const slot = async () =>
    (
      await server.sql(
        "SELECT restart_lsn::text AS lsn, active FROM pg_replication_slots WHERE slot_name = 'tidemark_follow'",
        'follow',
      )
    ).rows[0] as { lsn: string; active: boolean };

  const child = spawnCli(
    [
      'pitr',
      'archive',
      '--collection',
      'follow',
      '--follow',
      '--segment-seconds',
      String(SEGMENT_SECONDS),
      '--heartbeat-seconds',
      '1',
      '--repo',
      repo,
      '--json',
    ],
    { env },
  );
  const done = collect(child, 120_000);
  try {
    // RPO: from each commit to the sealing of the segment that holds it.
    const rpo: number[] = [];
    for (const id of [1, 2, 3]) {
      const committed = await insert(id);
      let segment: Awaited<ReturnType<typeof sealedWith>>;
      for (let wait = 0; !(segment = await sealedWith(id)) && wait < 300; wait++)
        await new Promise((r) => setTimeout(r, 100));
      expect(segment, `row ${id} archived`).toBeDefined();
      rpo.push((Date.parse(segment!.sealedAt!) - committed.getTime()) / 1000);
    }
    console.log(`follow: seconds from commit to sealed segment: ${rpo.map((s) => s.toFixed(2)).join(', ')}`);
    // A drain every SEGMENT_SECONDS, plus the drain itself (slow on a loaded machine).
    for (const s of rpo) expect(s).toBeLessThan(SEGMENT_SECONDS + 8);

    // Idle: other databases write WAL; heartbeats let this slot's restart point follow.
    const idle = await slot();
    await server.sql(
      "CREATE TABLE w AS SELECT g, repeat('w', 200) AS pad FROM generate_series(1, 40000) g",
      'followbusy',
    );
    let moved = false;
    for (let wait = 0; !moved && wait < 60; wait++) {
      await server.sql('CHECKPOINT');
      await new Promise((r) => setTimeout(r, 500));
      moved = (
        await server.sql(
          `SELECT restart_lsn > '${idle.lsn}'::pg_lsn AS moved FROM pg_replication_slots WHERE slot_name = 'tidemark_follow'`,
          'follow',
        )
      ).rows[0].moved;
    }
    expect(moved, `restart_lsn moved on from ${idle.lsn}`).toBe(true);

    // A commit just before SIGTERM is sealed before the archiver exits.
    await insert(99);
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code, describeResult(stopped)).toBe(0);
    expect(stopped.json).toMatchObject({ ok: true, transactions: 4, changes: 4, gaps: 0 });
    expect(stopped.json.drains).toBeGreaterThan(3);
    expect(await sealedWith(99)).toBeDefined();
    expect((await slot()).active).toBe(false);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}, 180_000);
