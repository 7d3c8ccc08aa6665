// `npm run bench:pitr-bigtxn` (issue 13, "memory stays bounded for a single transaction of 10
// million rows"): one INSERT … SELECT generate_series of N narrow rows in one transaction, then
// `pitr archive` and `restore --collection … --to latest`, each measured for peak RSS, time and
// changes/s; the server's side too (the slot's spill to pg_replslot, temporary files of the peek
// function's result, the archiver backend's peak RSS). Drives the CLI only. See bench/README.md,
// "PITR: one transaction of 10 million rows". Sizes: BENCH_PITR_BIGTXN_ROWS (comma-separated,
// default "1000000,10000000"), or `--scale <rows>` for one size.
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres } from '../test/support/postgres-server.ts';
import { withoutPassword } from '../src/adapters/postgres/connector.ts';
import { dirSize } from './measure.ts';
import { redact } from './harness.ts';
import {
  load1,
  makeLog,
  removeAll,
  round2,
  sampler,
  seconds,
  step,
  tidemarkBin,
  workDir,
  type Step,
} from './pitr-cli.ts';

const log = makeLog('bench pitr-bigtxn');
const scaleAt = process.argv.indexOf('--scale');
const SIZES = (scaleAt >= 0 ? process.argv[scaleAt + 1]! : (process.env.BENCH_PITR_BIGTXN_ROWS ?? '1000000,10000000'))
  .split(',')
  .map(Number);
if (SIZES.some((n) => !Number.isInteger(n) || n <= 0)) {
  process.stderr.write('--scale / BENCH_PITR_BIGTXN_ROWS: whole numbers of rows, comma-separated.\n');
  process.exit(2);
}
const VERIFY = process.env.BENCH_PITR_BIGTXN_NO_VERIFY !== '1';
const WORKERS = String(process.env.BENCH_PITR_BIGTXN_WORKERS ?? 2);

async function main(): Promise<void> {
  const cli = tidemarkBin();
  const work = await workDir('tidemark-bench-pitr-bigtxn-');
  log(`CLI ${cli}; work ${work}; sizes ${SIZES.join(', ')}; load ${load1()}`);
  const server = await startPostgres({ major: 15 });
  const results = [];
  let failed = false;
  try {
    const [{ data_directory: dataDir }] = (await server.sql('SHOW data_directory')).rows;
    const settings = (
      await server.sql(
        "SELECT name, setting, unit FROM pg_settings WHERE name IN ('logical_decoding_work_mem', 'work_mem', 'max_wal_size')",
      )
    ).rows;
    for (const rows of SIZES) {
      const r = await one(server, cli, work, dataDir, rows);
      results.push(r);
      if (!r.ok) failed = true;
    }
    process.stdout.write(
      `${JSON.stringify({ cli, settings, verify: VERIFY, restoreWorkers: Number(WORKERS), results, load1AtEnd: load1() }, null, 2)}\n`,
    );
  } finally {
    await server.stop().catch((e) => log(`stopping PostgreSQL: ${e}`));
    await removeAll(work);
  }
  if (failed) process.exitCode = 1;
}

async function one(
  server: Awaited<ReturnType<typeof startPostgres>>,
  cli: string,
  work: string,
  dataDir: string,
  rows: number,
) {
  const db = `bench_big_${rows}`;
  const collection = `big-${rows}`;
  const slot = `tidemark_${collection.replaceAll('-', '_')}`;
  const repo = join(work, `repo-${rows}`);
  const url = await server.createDatabase(db);
  await server.sql('CREATE TABLE big (id bigint PRIMARY KEY, v int NOT NULL)', db);
  const steps: Step[] = [];
  const run = async (name: string, args: string[]) => {
    const s = await step(name, process.execPath, [cli, ...args], work, log);
    steps.push(s);
    return s;
  };
  await run('collection create', [
    'collection',
    'create',
    collection,
    '--source',
    withoutPassword(url),
    '--repo',
    repo,
    '--json',
  ]);
  const enable = await run('pitr enable', ['pitr', 'enable', '--collection', collection, '--repo', repo, '--json']);
  const slotName = (enable.json?.slot as string | undefined) ?? slot;

  // The one transaction.
  let started = performance.now();
  const source = new pg.Client({ connectionString: url });
  await source.connect();
  await source.query(`INSERT INTO big SELECT g, (g % 1000)::int FROM generate_series(1, ${rows}) g`);
  await source.end();
  const insertSeconds = round2(seconds(started));
  const [{ wal }] = (
    await server.sql(
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS wal FROM pg_replication_slots WHERE slot_name = '${slotName}'`,
    )
  ).rows;
  log(`${rows} rows inserted in one transaction in ${insertSeconds} s; the slot retains ${wal} bytes of WAL`);

  // Archive, with the server's side sampled: the slot's spill files, the temporary files of the
  // peek function's materialised result, and the archiver backend's peak RSS.
  const stats = async () =>
    (
      await server.sql(
        `SELECT (SELECT row_to_json(s) FROM pg_stat_replication_slots s WHERE slot_name = '${slotName}') AS slot,
                (SELECT row_to_json(d) FROM (SELECT temp_files, temp_bytes FROM pg_stat_database WHERE datname = '${db}') d) AS db`,
      )
    ).rows[0] as { slot: Record<string, number> | null; db: { temp_files: number; temp_bytes: number } };
  const before = await stats();
  const watcher = new pg.Client({ connectionString: server.url() });
  await watcher.connect();
  const stop = sampler({
    dirs: [join(dataDir, 'pg_replslot', slotName), join(dataDir, 'base', 'pgsql_tmp')],
    pids: async () =>
      (
        await watcher.query(
          "SELECT pid FROM pg_stat_activity WHERE application_name IN ('tidemark archiver', 'tidemark pitr', 'tidemark replay')",
        )
      ).rows.map((r) => r.pid as number),
    ms: 250,
  });
  const archive = await run(`pitr archive (${rows} rows)`, [
    'pitr',
    'archive',
    '--collection',
    collection,
    '--repo',
    repo,
    '--json',
  ]);
  const archiveServer = await stop();
  // Statistics reach the views shortly after a backend reports them.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await stats();
  const archivedChanges = Number(archive.json?.changes ?? 0);
  const segmentBytes = (await dirSize(join(repo, 'segments'))).bytes;

  // Restore to latest: the base (an empty table) and the replay of the one transaction.
  const target = `bench_big_${rows}_restored`;
  await server.sql('CHECKPOINT');
  const stopReplay = sampler({
    pids: async () =>
      (await watcher.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'tidemark replay'")).rows.map(
        (r) => r.pid as number,
      ),
    ms: 250,
  });
  const restore = await run(`restore --to latest (${rows} rows${VERIFY ? '' : ', --no-verify'})`, [
    'restore',
    '--collection',
    collection,
    '--to',
    'latest',
    '--target',
    server.url(target),
    '--repo',
    repo,
    '--json',
    '--workers',
    WORKERS,
    ...(VERIFY ? [] : ['--no-verify']),
  ]);
  const restoreEnded = performance.now();
  const replayServer = await stopReplay();
  // From the replay session's first sighting to the CLI's exit (the base here is an empty table).
  const replaySeconds =
    replayServer.firstPidAt === undefined ? undefined : round2((restoreEnded - replayServer.firstPidAt) / 1000);
  await watcher.end();
  let restoredRows: number | undefined;
  if (restore.ok) {
    const [{ n, s }] = (await server.sql('SELECT count(*)::bigint AS n, sum(v)::bigint AS s FROM big', target)).rows;
    restoredRows = Number(n);
    const [{ s: expected }] = (await server.sql('SELECT sum(v)::bigint AS s FROM big', db)).rows;
    if (restoredRows !== rows || s !== expected)
      log(`restore of ${rows} rows: MISMATCH (${n} rows, sum ${s} vs ${expected})`);
  }
  const replay = restore.json?.replay as { changes?: number; transactions?: number } | undefined;

  // Leave nothing behind in the server: the slot pins WAL for the next size.
  await run('pitr disable', ['pitr', 'disable', '--collection', collection, '--repo', repo, '--json']);
  await server.sql(`DROP DATABASE IF EXISTS ${target}`);
  await server.sql(`DROP DATABASE ${db}`);
  await removeAll(repo);

  const diff = (key: string) =>
    after.slot && before.slot ? Number(after.slot[key] ?? 0) - Number(before.slot[key] ?? 0) : undefined;
  const hwmMB = (kb: Record<number, number>) => Math.round(Math.max(0, ...Object.values(kb)) / 1024);
  return {
    rows,
    ok: steps.every((s) => s.ok) && restoredRows === rows,
    insertSeconds,
    retainedWalBytes: Number(wal),
    archive: {
      seconds: archive.seconds,
      peakRssMB: archive.peakRssMB,
      rssMethod: archive.rssMethod,
      cpuSeconds: archive.treeCpuSeconds,
      otherCpuShare: archive.otherCpuShare,
      changes: archivedChanges,
      transactions: archive.json?.transactions,
      segments: archive.json?.segments,
      segmentBytes,
      changesPerSecond: archive.seconds ? Math.round(archivedChanges / archive.seconds) : undefined,
      server: {
        spillBytes: diff('spill_bytes'),
        spillCount: diff('spill_count'),
        spillTxns: diff('spill_txns'),
        totalBytes: diff('total_bytes'),
        tempFiles: Number(after.db.temp_files) - Number(before.db.temp_files),
        tempBytes: Number(after.db.temp_bytes) - Number(before.db.temp_bytes),
        peakSpillDirBytes: archiveServer.peakDirBytes[join(dataDir, 'pg_replslot', slotName)],
        peakTempDirBytes: archiveServer.peakDirBytes[join(dataDir, 'base', 'pgsql_tmp')],
        peakBackendRssMB: hwmMB(archiveServer.peakHwmKB),
        peakBackendAnonMB: hwmMB(archiveServer.peakAnonKB),
      },
      error: archive.error,
    },
    restore: {
      verify: VERIFY,
      seconds: restore.seconds,
      peakRssMB: restore.peakRssMB,
      cpuSeconds: restore.treeCpuSeconds,
      otherCpuShare: restore.otherCpuShare,
      replayChanges: replay?.changes,
      replayTransactions: replay?.transactions,
      replaySeconds,
      replayChangesPerSecond: replay?.changes && replaySeconds ? Math.round(replay.changes / replaySeconds) : undefined,
      restoredRows,
      replayBackendPeakRssMB: hwmMB(replayServer.peakHwmKB),
      replayBackendPeakAnonMB: hwmMB(replayServer.peakAnonKB),
      error: restore.error,
    },
  };
}

main().catch((err) => {
  process.stderr.write(`bench crashed: ${redact(String((err as Error)?.stack ?? err))}\n`);
  process.exit(1);
});
