// The archiver killed at random points (SIGKILL, ≥ 10 times) while the source keeps writing:
// nothing is lost or archived twice (issue 13, acceptance). Each run resumes from the end of the
// chain in the repository; the oracle is the source itself, restored to `latest` once writes stop.
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from './support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from './support/pipeline.ts';
import { archivedSegments, openPitrSource } from './support/pitr-source.ts';
import { spawnCli, collect, runCli, describeResult } from './support/cli.ts';
import { tableContents } from './support/pitr-physical.ts';
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
    await createCollection(src.ctx, { name: 'kill', source: withoutPassword(url), sourceDescription: describeUrl(url), retention: {} });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'kill');
    await runBackup(repo, url, { collection: 'kill', workers: 1 });
    writes = (async () => {
      while (writing) {
        const first = next;
        next += 5;
        await writer.query(`INSERT INTO items SELECT g, 0, repeat('p', 100) FROM generate_series(${first}, ${next - 1}) g`);
        await writer.query(`UPDATE items SET n = n + 1 WHERE id IN (${first}, ${Math.max(1, first - 50)})`);
        await writer.query(`DELETE FROM items WHERE id = ${first + 3}`);
        await new Promise((r) => setTimeout(r, 15));
      }
    })();

    // Kill times spread over start-up and draining (a fixed sequence, so a failure repeats).
    const delays = [1900, 2600, 1500, 3100, 2200, 2800, 1700, 3400, 2400, 2000, 3000, 2500];
    const env = { PGPASSWORD: 'tidemark-test-password' };
    const args = ['pitr', 'archive', '--collection', 'kill', '--repo', repo, '--segment-bytes', '4096', '--json'];
    let killed = 0;
    let progressed = 0;
    let segments = (await archivedSegments(src.ctx.storage, 'kill')).length;
    for (const delay of delays) {
      const child = spawnCli(args, { env });
      const ended = collect(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      const result = await ended;
      clearTimeout(timer);
      if (result.signal === 'SIGKILL') killed++;
      else expect(result.code, describeResult(result)).toBe(0);
      const now = (await archivedSegments(src.ctx.storage, 'kill')).length;
      if (now > segments) progressed++;
      segments = now;
    }
    writing = false;
    await writes;
    const last = await runCli(args, { env });
    expect(last.code, describeResult(last)).toBe(0);
    expect(killed).toBeGreaterThanOrEqual(10);
    // Most killed runs had archived something first: the kills hit the drain, not only start-up.
    expect(progressed).toBeGreaterThanOrEqual(5);

    const records = (await archivedSegments(src.ctx.storage, 'kill')).flatMap((s) => s.records);
    const commits = records.filter((r) => r.k === 'C').map((r) => (r.k === 'C' ? r.xid : ''));
    expect(new Set(commits).size).toBe(commits.length);
    expect(records.filter((r) => r.k === 'B').map((r) => (r.k === 'B' ? r.xid : ''))).toEqual(commits);

    const into = server.url('kill_latest');
    src.ctx.credentials.register('latest', into);
    await restoreToPoint({ collection: 'kill', target: parseTarget('latest'), into: { credentials: 'latest' }, restoreBackup: async (id) => void (await runRestore(repo, id, into)) }, src.ctx);
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
