// Issue 11: a restore killed mid-load left its catalog record `running` for ever. It records its
// process (runner), and gc marks it failed once that process is gone — saying it was interrupted
// and how to resume it, touching nothing in the target — and `restore --resume` then completes it.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { collect, describeResult } from '../support/cli.ts';
import { buildCliBundle, runAndKill, spawnBundledCli } from '../support/cli-bundle.ts';
import { tempRepository } from '../support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';

let pg: PostgresServer;
let repo: string;

beforeAll(async () => {
  buildCliBundle();
  [pg, repo] = await Promise.all([startPostgres({ major: 15 }), tempRepository()]);
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL);
     INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 150000) g;`,
    'shop',
  );
  const backup = await runAndKill(
    ['backup', '--source', pg.url('shop'), '--repo', repo, '--chunk-bytes', '65536', '--json'],
    120_000,
  );
  expect(backup.code, describeResult(backup)).toBe(0);
}, 180_000);

afterAll(async () => {
  await pg?.stop();
  if (repo) await rm(join(repo, '..'), { recursive: true, force: true });
});

/** Rows of the progress table: chunks and tables the killed restore finished. */
async function progressRows(database: string): Promise<number> {
  try {
    return (await pg.sql(`SELECT count(*)::int AS n FROM _tidemark_restore.done`, database)).rows[0].n as number;
  } catch {
    return 0; // the database or the progress table is not there yet
  }
}

describe('a restore killed mid-load', () => {
  it('is marked failed by gc, with how to resume it, and the resume completes and verifies', async () => {
    const target = 'killed_target';
    const child = spawnBundledCli(['restore', 'latest', '--repo', repo, '--target', pg.url(target), '--json']);
    const done = collect(child);
    let killed = false;
    while (child.exitCode === null && child.signalCode === null) {
      if ((await pg.sql(`SELECT 1 FROM pg_database WHERE datname = '${target}'`)).rows.length > 0) {
        if ((await progressRows(target)) > 0) {
          killed = child.kill('SIGKILL');
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await done;
    expect(killed && result.signal === 'SIGKILL', `not killed mid-load: ${describeResult(result)}`).toBe(true);

    const ctx = await openLocalContext(repo, { create: false });
    const [record] = await ctx.catalog.listRunningRestores();
    expect(record, 'the killed restore is left running').toBeDefined();
    expect(record!.runner).toEqual({ host: expect.any(String), pid: child.pid });
    const rowsBefore = (await pg.sql(`SELECT count(*)::int AS n FROM big`, target)).rows[0].n;
    const progressBefore = await progressRows(target);

    // gc: the process is gone, so the restore is failed, with why and what to do.
    const gc = await runAndKill(['gc', '--repo', repo, '--json'], 120_000);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.restoresMarkedFailed).toEqual([record!.restoreId]);
    const failed = await ctx.catalog.getRestore(record!.restoreId);
    expect(failed?.state).toBe('failed');
    expect(failed?.error).toMatch(/Interrupted: its process \(pid \d+ on .+\) is gone/);
    expect(failed?.error).toContain(`tidemark restore --resume ${record!.restoreId}`);
    expect(await ctx.catalog.listRunningRestores()).toEqual([]);
    // The target is as the killed restore left it.
    expect((await pg.sql(`SELECT count(*)::int AS n FROM big`, target)).rows[0].n).toBe(rowsBefore);
    expect(await progressRows(target)).toBe(progressBefore);
    // A second gc finds nothing more to mark.
    const again = await runAndKill(['gc', '--repo', repo, '--json'], 120_000);
    expect(again.json.restoresMarkedFailed).toEqual([]);

    // The resume carries on in the same target and verifies.
    const resumed = await runAndKill(
      ['restore', '--resume', record!.restoreId, '--repo', repo, '--target', pg.url(target), '--json'],
      120_000,
    );
    expect(resumed.code, describeResult(resumed)).toBe(0);
    expect(resumed.json).toMatchObject({ ok: true, rows: 150000 });
    const [source, restored] = await Promise.all([
      pg.sql(`SELECT md5(string_agg(b::text, ',' ORDER BY id)) AS h, count(*)::int AS n FROM big b`, 'shop'),
      pg.sql(`SELECT md5(string_agg(b::text, ',' ORDER BY id)) AS h, count(*)::int AS n FROM big b`, target),
    ]);
    expect(restored.rows[0]).toEqual(source.rows[0]);
    expect((await ctx.catalog.getRestore(resumed.json.restoreId))?.state).toBe('committed');
  }, 240_000);

  it('a running restore whose process is alive is left running', async () => {
    const ctx = await openLocalContext(repo, { create: false });
    const backupId = (await ctx.catalog.listBackups())[0]!.backupId;
    await ctx.catalog.createRestore({
      restoreId: 'live-restore',
      backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      target: 'localhost:1/live',
      runner: ctx.runner!,
    });
    // And one without a runner (AWS: the state machine's), also left alone.
    await ctx.catalog.createRestore({
      restoreId: 'aws-restore',
      backupId,
      state: 'running',
      startedAt: new Date().toISOString(),
      target: 'localhost:1/aws',
    });
    const gc = await runAndKill(['gc', '--repo', repo, '--json'], 120_000);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.restoresMarkedFailed).toEqual([]);
    expect((await ctx.catalog.listRunningRestores()).map((r) => r.restoreId).sort()).toEqual([
      'aws-restore',
      'live-restore',
    ]);
  }, 120_000);
});
