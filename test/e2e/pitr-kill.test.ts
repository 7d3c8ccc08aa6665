// The archiver killed at random points (SIGKILL, ≥ 10 times) while the source keeps writing:
// nothing is lost or archived twice (issue 13, acceptance). Each run resumes from the end of the
// chain in the repository; the oracle is the source itself, restored to `latest` once writes stop.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { archivedSegments, openPitrSource } from '../support/pitr-source.ts';
import { spawnCli, collect, runCli, describeResult } from '../support/cli.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('an archiver killed 10 times while writes run loses and repeats nothing', async () => {
  const url = await server.createDatabase('kill');
  await server.sql('CREATE TABLE items (id int PRIMARY KEY, n int NOT NULL, pad text)', 'kill');
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  const writer = new pg.Client({ connectionString: url });
  await writer.connect();
  let writing = true;
  let next = 1;
  let writes: Promise<void> | undefined;
  try {
    await createCollection(src.ctx, {
      name: 'kill',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'kill');
    await runBackup(repo, url, { collection: 'kill', workers: 1 });
    writes = (async () => {
      while (writing) {
        const first = next;
        next += 5;
        await writer.query(
          `INSERT INTO items SELECT g, 0, repeat('p', 100) FROM generate_series(${first}, ${next - 1}) g`,
        );
        await writer.query(`UPDATE items SET n = n + 1 WHERE id IN (${first}, ${Math.max(1, first - 50)})`);
        await writer.query(`DELETE FROM items WHERE id = ${first + 3}`);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    // Each run is killed while it drains: once it has written a segment, after a pause that
    // differs from run to run, so the kill lands between a segment and the slot's advance, in
    // the middle of the next segment, or during the advance (a fixed sequence, so a failure repeats).
    const pauses = [0, 5, 20, 1, 60, 10, 0, 35, 2, 90, 15, 45];
    const env = { PGPASSWORD: 'tidemark-test-password' };
    const args = ['pitr', 'archive', '--collection', 'kill', '--repo', repo, '--segment-bytes', '4096', '--json'];
    const segmentKeys = async () => {
      let n = 0;
      for await (const _ of src.ctx.storage.list('segments/kill/')) n++;
      return n;
    };
    let killed = 0;
    for (const pause of pauses) {
      await new Promise((r) => setTimeout(r, 300)); // a backlog for the run to drain
      const before = await segmentKeys();
      const child = spawnCli(args, { env });
      let ended = false;
      const result = collect(child).finally(() => (ended = true));
      while (!ended) {
        if ((await segmentKeys()) > before) {
          await new Promise((r) => setTimeout(r, pause));
          child.kill('SIGKILL');
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const outcome = await result;
      if (outcome.signal === 'SIGKILL') killed++;
      else expect(outcome.code, describeResult(outcome)).toBe(0);
    }
    writing = false;
    await writes;
    const last = await runCli(args, { env });
    expect(last.code, describeResult(last)).toBe(0);
    expect(killed).toBeGreaterThanOrEqual(10);

    const records = (await archivedSegments(src.ctx.storage, 'kill')).flatMap((s) => s.records);
    const commits = records.filter((r) => r.k === 'C').map((r) => (r.k === 'C' ? r.xid : ''));
    expect(new Set(commits).size).toBe(commits.length);
    expect(records.filter((r) => r.k === 'B').map((r) => (r.k === 'B' ? r.xid : ''))).toEqual(commits);

    const into = server.url('kill_latest');
    src.ctx.credentials.register('latest', into);
    await restoreToPoint(
      {
        collection: 'kill',
        target: parseTarget('latest'),
        into: { credentials: 'latest' },
        restoreBackup: async (id) => void (await runRestore(repo, id, into)),
      },
      src.ctx,
    );
    const expected = await tableContents((q) => server.sql(q, 'kill'));
    expect(expected['items']!.length).toBeGreaterThan(500);
    expect(await tableContents((q) => server.sql(q, 'kill_latest'))).toEqual(expected);
  } finally {
    writing = false;
    await writes?.catch(() => {});
    await writer.end();
    await src.close();
  }
}, 120_000);
