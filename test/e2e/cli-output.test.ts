// What the command line prints on success (item 9): the backup id alone on stdout, progress
// (tables, bytes, rate) and a summary on stderr without --json; one JSON object with the promised
// fields with --json. And where it looks for the repository: --repo, else $TIDEMARK_REPO, else
// ./tidemark-repo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { describeResult, runCli, runCliInProcess } from '../support/cli.ts';
import { tableContents } from '../support/database-state.ts';

let pg: PostgresServer;
let scratch: string;

beforeAll(async () => {
  [pg, scratch] = await Promise.all([startPostgres({ major: 15 }), mkdtemp(join(tmpdir(), 'tidemark-cli-output-'))]);
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2));
     CREATE TABLE empty_one (id int);
     INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 3000) g;
     INSERT INTO orders SELECT g, 1 + g % 3000, (g % 997) * 1.25 FROM generate_series(1, 30000) g;`,
    'shop',
  );
});

afterAll(async () => {
  await pg?.stop();
  await rm(scratch, { recursive: true, force: true });
});

describe('human output, with the repository from $TIDEMARK_REPO', () => {
  const env = () => ({ TIDEMARK_REPO: join(scratch, 'from-env') });
  let backupId: string;

  it('backup: the id alone on stdout; per-phase progress with tables done of all, and the summary, on stderr', async () => {
    // Small ranges and chunks: orders spans several export tasks, and counts as done once, after its last.
    const result = await runCli(
      ['backup', '--source', pg.url('shop'), '--range-bytes', '65536', '--chunk-bytes', '65536'],
      { env: env() },
    );
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}\n$/);
    backupId = result.stdout.trim();
    expect(result.stderr).toMatch(
      /^backup export: 3\/3 tables, [\d.]+ [KM]i?B, 33,000 rows, \d+ chunks, [\d.]+ [KM]?i?B\/s$/m,
    );
    expect(result.stderr).toContain(`Backup ${backupId} committed: 3 tables, 33,000 rows`);
    expect(existsSync(join(scratch, 'from-env', 'tidemark.json'))).toBe(true);
  });

  it('restore: progress of the load and of the verification, then the summary on stderr; stdout stays empty', async () => {
    const result = await runCli(['restore', 'latest', '--target', pg.url('shop_restored')], { env: env() });
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^restore load: 3\/3 tables, .*33,000 rows/m);
    expect(result.stderr).toMatch(/^restore verify: 3\/3 tables, .*33,000 rows/m);
    expect(result.stderr).toContain(`of backup ${backupId} into`);
    expect(result.stderr).toContain('done and verified: 3 tables, 33,000 rows');
    expect(await tableContents(pg, 'shop_restored')).toEqual(await tableContents(pg, 'shop'));
  });

  it('verify: progress counts the tables whose chunks are all read, the empty one too', async () => {
    const result = await runCli(['verify', backupId], { env: env() });
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stderr).toMatch(/^verify: 3\/3 tables, [\d.]+ [KM]i?B, \d+ chunks, [\d.]+ [KM]?i?B\/s$/m);
  });

  it('--repo wins over $TIDEMARK_REPO', async () => {
    const result = await runCli(['list', '--repo', join(scratch, 'nowhere'), '--json'], { env: env() });
    expect(result.code, describeResult(result)).not.toBe(0);
    expect(result.stderr).toContain(join(scratch, 'nowhere'));
  });
});

describe('--json, with the repository in ./tidemark-repo', () => {
  it('backup --json prints one object with the promised fields, into ./tidemark-repo of the working directory', async () => {
    const cwd = await mkdtemp(join(scratch, 'cwd-'));
    const result = await runCli(['backup', '--source', pg.url('shop'), '--json'], { cwd });
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.json).toMatchObject({ ok: true, tables: 3, rows: 33000, warnings: [] });
    expect(result.json.repository).toBe(join(cwd, 'tidemark-repo'));
    expect(result.json.backupId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(result.json.bytesRead).toBeGreaterThan(33000 * 8);
    expect(result.json.bytesStored).toBeGreaterThan(1000);
    expect(result.json.bytesStored).toBeLessThan(result.json.bytesRead);
    expect(result.json.seconds).toBeGreaterThan(0);
    expect(existsSync(join(cwd, 'tidemark-repo', 'tidemark.json'))).toBe(true);

    const list = await runCli(['list', '--json'], { cwd });
    expect(list.code, describeResult(list)).toBe(0);
    expect(list.json).toMatchObject([{ backupId: result.json.backupId, state: 'committed' }]);
  });
});

describe('--json usage errors (issue 11, finding 12)', () => {
  it('an unknown option or an out-of-bounds --chunk-bytes prints one JSON document {ok: false}, exit 2, and registers nothing', async () => {
    const repo = join(scratch, 'usage-errors');
    const unknown = await runCliInProcess(['list', '--bogus', '--json', '--repo', repo]);
    const huge = await runCliInProcess([
      'backup',
      '--source',
      pg.url('shop'),
      '--chunk-bytes',
      '99999999999999',
      '--json',
      '--repo',
      repo,
    ]);
    const workers = await runCliInProcess(['restore', 'latest', '--workers', '0', '--json', '--repo', repo]);
    for (const r of [unknown, huge, workers]) {
      expect(r.code, describeResult(r)).toBe(2);
      expect(r.json, describeResult(r)).toMatchObject({ ok: false, error: { type: 'UsageError' } });
    }
    expect(unknown.json.error.message).toContain('--bogus');
    expect(huge.json.error.message).toMatch(/--chunk-bytes must be a whole number from 1,024 to 1,073,741,824 bytes/);
    expect(workers.json.error.message).toContain('--workers');
    expect(existsSync(repo), 'nothing was created or registered').toBe(false);
  });
});
