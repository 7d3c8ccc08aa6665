// `npm run bench`: Tidemark backup/restore against pg_dump/pg_restore on one PostgreSQL 15 server.
// See bench/README.md. BENCH_SIZE_MB (default 1024) sets the generated database size.
import { mkdir, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD, type PostgresServer } from '../test/support/postgres-server.ts';
import { countRows, generateDatabase } from './generate.ts';
import { benchIncremental, type IncrementalResult } from './incremental.ts';
import { dirSize, fmtMB, fmtS, pgBin } from './measure.ts';
import {
  inRound,
  log,
  measure,
  outcome,
  redact,
  ROOT,
  ROUNDS,
  runs,
  SIZE_MB,
  SOURCE_DB,
  tidemark,
  WORK,
} from './harness.ts';
import { report } from './report.ts';

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  // Measure the CLI as users run it after `npm ci`: from its bundle, rebuilt from the current sources.
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs')], { stdio: 'inherit' });
  log(`starting PostgreSQL 15 (size ${SIZE_MB} MB, ${availableParallelism()} CPUs)`);
  const server = await startPostgres({ major: 15 });
  try {
    await bench(server);
  } finally {
    await server.stop().catch((e) => log(`stopping PostgreSQL: ${e}`));
    await rm(WORK, { recursive: true, force: true });
  }
}

async function bench(server: PostgresServer): Promise<void> {
  // 1. The source database.
  const sourceUrl = await server.createDatabase(SOURCE_DB);
  log(`generating ~${SIZE_MB} MB into ${SOURCE_DB}`);
  const gen = await generateDatabase(sourceUrl, SIZE_MB, log);
  log(
    `generated ${fmtMB(gen.databaseBytes)} in ${fmtS(gen.seconds)}: ${gen.tables.map((t) => `${t.name} ${t.rows} rows ${fmtMB(t.bytes)}`).join(', ')}`,
  );
  const sourceRows = await countRows(sourceUrl);

  const pgEnv = { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD };
  const conn = (db: string) => ['-h', '127.0.0.1', '-p', String(server.port), '-U', SUPERUSER, '-w', '-d', db];
  const checkpoint = () => server.sql('CHECKPOINT');
  const dir = (name: string) => join(WORK, name);

  // 2. Backups: Tidemark (2 and 4 workers, separate repositories so nothing dedups) and pg_dump.
  const backupTidemark = async (round: number) => {
    await checkpoint();
    return tidemark(
      [
        'backup',
        '--source',
        sourceUrl,
        '--repo',
        dir(inRound('repo-w2', round).replace(/\W+/g, '-')),
        '--json',
        '--workers',
        '2',
      ],
      inRound('', round),
    );
  };
  const backupPgDump = async (round: number) => {
    await checkpoint();
    return measure(
      inRound('pg_dump -Fd -j2', round),
      pgBin('pg_dump'),
      ['-Fd', '-j2', '-f', dir(inRound('dump-default', round).replace(/\W+/g, '-')), ...conn(SOURCE_DB)],
      { env: pgEnv },
    );
  };
  const tm2 = await backupTidemark(1);
  await backupPgDump(1);
  await checkpoint();
  await measure(
    'pg_dump -Fd -j2 -Z0',
    pgBin('pg_dump'),
    ['-Fd', '-j2', '-Z0', '-f', dir('dump-z0'), ...conn(SOURCE_DB)],
    { env: pgEnv },
  );
  await checkpoint();
  const tm4 = await tidemark(['backup', '--source', sourceUrl, '--repo', dir('repo-w4'), '--json', '--workers', '4']);

  // 3. Restores into fresh databases, checked by row counts.
  const restored: Record<string, Record<string, number> | string> = {};
  const backupId = tm2.json?.backupId as string | undefined;
  const restoreTidemark = async (round: number, verify: boolean) => {
    if (!tm2.ok || !backupId) return;
    const target = await server.createDatabase('bench_restore_tidemark');
    await checkpoint();
    // --no-verify is like for like with pg_restore, which reads nothing back.
    const r = await tidemark(
      [
        'restore',
        backupId,
        '--target',
        target,
        '--repo',
        dir('repo-w2'),
        '--json',
        ...(verify ? [] : ['--no-verify']),
        '--workers',
        '2',
      ],
      inRound('', round),
    );
    restored[inRound(verify ? 'tidemark' : 'tidemark --no-verify', round)] = r.ok ? await countRows(target) : 'failed';
    await server.sql('DROP DATABASE bench_restore_tidemark');
  };
  const restorePg = async (round: number) => {
    if (!runs['pg_dump -Fd -j2']?.ok) return;
    await server.createDatabase('bench_restore_pg');
    await checkpoint();
    const r = await measure(
      inRound('pg_restore -j2', round),
      pgBin('pg_restore'),
      ['-j2', ...conn('bench_restore_pg'), dir('dump-default')],
      { env: pgEnv },
    );
    restored[inRound('pg_restore', round)] = r.ok ? await countRows(server.url('bench_restore_pg')) : 'failed';
    await server.sql('DROP DATABASE bench_restore_pg');
  };
  await restoreTidemark(1, true);
  await restorePg(1);
  await restoreTidemark(1, false);

  // 3a. More rounds of the timed pairs, in alternating order, because this kind of machine drifts
  // in speed by tens of percent from one minute to the next (bench/README.md, "Caveats").
  for (let round = 2; round <= ROUNDS; round++) {
    const backups = [() => backupTidemark(round), () => backupPgDump(round)];
    for (const step of round % 2 ? backups : backups.reverse()) await step();
    await rm(dir(inRound('repo-w2', round).replace(/\W+/g, '-')), { recursive: true, force: true });
    await rm(dir(inRound('dump-default', round).replace(/\W+/g, '-')), { recursive: true, force: true });
    const restores = [() => restoreTidemark(round, true), () => restorePg(round), () => restoreTidemark(round, false)];
    for (const step of round % 2 ? restores : restores.reverse()) await step();
  }
  for (const [tool, counts] of Object.entries(restored)) {
    const same = typeof counts === 'object' && Object.entries(sourceRows).every(([t, n]) => counts[t] === n);
    log(`row counts after ${tool}: ${same ? 'match the source' : `MISMATCH ${JSON.stringify(counts)}`}`);
    if (!same) outcome.failures++;
  }

  // 3b. A collection: full backup, 1% churn, incremental backup (changes the source: runs last
  // among the steps that read it).
  let incremental: IncrementalResult | undefined;
  try {
    incremental = await benchIncremental(server, SOURCE_DB, dir('repo-collection'), (name, args) =>
      measure(name, process.execPath, [join(ROOT, 'bin', 'tidemark.mjs'), ...args], { rss: args[0] === 'backup' }),
    );
  } catch (err) {
    outcome.failures++;
    log(`incremental bench failed: ${redact(String(err))}`);
  }

  // 4. Sizes.
  const repoSize = async (name: string) => {
    if (!runs[`tidemark backup --workers ${name.slice(-1)}`]?.ok)
      return { chunksAndBackupsBytes: undefined, totalBytes: undefined, totalDiskBytes: undefined, files: 0 };
    const [chunks, backups, total] = await Promise.all(
      ['chunks', 'backups', ''].map((p) => dirSize(join(dir(name), p))),
    );
    return {
      chunksAndBackupsBytes: chunks!.bytes + backups!.bytes,
      totalBytes: total!.bytes,
      totalDiskBytes: total!.diskBytes,
      files: total!.files,
    };
  };
  const sizes = {
    sourceDatabaseBytes: gen.databaseBytes,
    tidemarkRepoW2: await repoSize('repo-w2'),
    tidemarkRepoW4: await repoSize('repo-w4'),
    dumpDefault: await dirSize(dir('dump-default')),
    dumpZ0: await dirSize(dir('dump-z0')),
  };

  // 5. Report (report.ts).
  await report({ gen, sourceRows, restored, sizes, incremental });
}

main().then(
  () => process.exit(outcome.failures > 0 ? 1 : 0),
  (err) => {
    process.stderr.write(`bench crashed: ${redact(String((err as Error)?.stack ?? err))}\n`);
    process.exit(1);
  },
);
