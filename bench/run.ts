// `npm run bench`: Tidemark backup/restore against pg_dump/pg_restore on one PostgreSQL 15 server.
// See bench/README.md. BENCH_SIZE_MB (default 1024) sets the generated database size.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD, type PostgresServer } from '../test/support/postgres-server.ts';
import { countRows, generateDatabase } from './generate.ts';
import { benchIncremental, type IncrementalResult } from './incremental.ts';
import {
  cpuDelta,
  cpuSnapshot,
  dirSize,
  fmtMB,
  fmtS,
  parseJsonOutput,
  pgBin,
  printTable,
  runCommand,
  type RunResult,
} from './measure.ts';

const benchStarted = performance.now();
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const RESULTS = join(ROOT, 'bench', 'results', 'latest.json');
const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1024);
/** Rounds of the timed pairs (Tidemark and the pg tool side by side); targets use the median ratio. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`BENCH_ROUNDS must be a whole number of at least 1, not "${process.env.BENCH_ROUNDS}".\n`);
  process.exit(2);
}
const SOURCE_DB = 'bench_source';
const log = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const redact = (s: string) =>
  s.replaceAll(SUPERUSER_PASSWORD, '***').replaceAll(encodeURIComponent(SUPERUSER_PASSWORD), '***');

interface Measured {
  seconds: number;
  ok: boolean;
  command: string;
  error?: string;
  peakRssMB?: number;
  rssMethod?: string;
  json?: Record<string, unknown>;
  /** CPU used by the command and the server during the step; share of all CPUs used by unrelated processes meanwhile. */
  treeCpuSeconds: number;
  otherCpuShare: number;
}
const runs: Record<string, Measured> = {};
let failures = 0;

/** Runs one measured command, records it under `name`, and logs the outcome. */
async function measure(
  name: string,
  cmd: string,
  args: string[],
  opts: { rss?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Measured> {
  await waitForQuiet(name);
  log(`${name} ...`);
  const before = await cpuSnapshot();
  const r: RunResult = await runCommand(cmd, args, { ...opts, cwd: ROOT, workDir: WORK });
  const cpu = cpuDelta(before, await cpuSnapshot());
  const m: Measured = {
    seconds: r.seconds,
    ok: r.code === 0,
    command: redact(r.command),
    peakRssMB: r.peakRssMB,
    rssMethod: r.rssMethod,
    ...cpu,
  };
  if (cmd === process.execPath) m.json = parseJsonOutput(r.stdout);
  if (!m.ok) {
    failures++;
    m.error = redact(`exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`).slice(-4000);
    log(`${name} FAILED (${m.error.split('\n')[0]})\n${m.error}`);
  } else
    log(
      `${name}: ${fmtS(r.seconds)}, ${cpu.treeCpuSeconds.toFixed(1)} CPU s, others ${(cpu.otherCpuShare * 100).toFixed(0)} %${r.peakRssMB ? `, peak RSS ${r.peakRssMB.toFixed(0)} MB` : ''}`,
    );
  runs[name] = m;
  return m;
}

/** Waits (up to BENCH_QUIET_WAIT_S, default 30 s) until unrelated processes use < 15 % of the CPUs over a second. */
async function waitForQuiet(name: string): Promise<void> {
  const deadline = performance.now() + Number(process.env.BENCH_QUIET_WAIT_S ?? 30) * 1000;
  for (;;) {
    const a = await cpuSnapshot();
    await new Promise((r) => setTimeout(r, 1000));
    const share = cpuDelta(a, await cpuSnapshot()).otherCpuShare;
    if (share < 0.15) return;
    if (performance.now() > deadline) {
      log(`machine still busy (others ${(share * 100).toFixed(0)} %); measuring ${name} anyway`);
      return;
    }
  }
}

const tidemark = (args: string[], suffix = '') =>
  measure(
    `tidemark ${args[0]}${args.includes('--no-verify') ? ' --no-verify' : ''} --workers ${args.at(-1)}${suffix}`,
    process.execPath,
    [join(ROOT, 'bin', 'tidemark.mjs'), ...args],
    { rss: true },
  );
/** Names of the measurements of rounds after the first. */
const inRound = (name: string, round: number) => (round === 1 ? name : `${name} (round ${round})`);

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
    if (!same) failures++;
  }

  // 3b. A collection: full backup, 1% churn, incremental backup (changes the source: runs last
  // among the steps that read it).
  let incremental: IncrementalResult | undefined;
  try {
    incremental = await benchIncremental(server, SOURCE_DB, dir('repo-collection'), (name, args) =>
      measure(name, process.execPath, [join(ROOT, 'bin', 'tidemark.mjs'), ...args], { rss: args[0] === 'backup' }),
    );
  } catch (err) {
    failures++;
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

  // 5. Report.
  const sec = (name: string) => (runs[name]?.ok ? runs[name]!.seconds : undefined);
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
  const verdict = (v: number | undefined, max: number, strict = false) =>
    v === undefined ? 'n/a' : (strict ? v < max : v <= max) ? 'PASS' : 'MISS';
  const dumpBytes = sizes.dumpDefault.bytes;
  // Timed pairs are judged on the median over rounds of each round's own ratio.
  const byRound = (ours: string, theirs: string, of: (name: string) => number | undefined) => {
    const values = Array.from({ length: ROUNDS }, (_, i) =>
      ratio(of(inRound(ours, i + 1)), of(inRound(theirs, i + 1))),
    );
    const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
    const mid = known.length >> 1;
    const median = known.length === 0 ? undefined : known.length % 2 ? known[mid] : (known[mid - 1]! + known[mid]!) / 2;
    return { value: median, rounds: values };
  };
  const cpu = (name: string) => runs[name]?.treeCpuSeconds;
  const targets = [
    {
      name: 'backup time / pg_dump -j2 (workers 2)',
      ...byRound('tidemark backup --workers 2', 'pg_dump -Fd -j2', sec),
      max: 0.5,
    },
    {
      name: 'backup time / pg_dump -j2 (workers 4)',
      value: ratio(sec('tidemark backup --workers 4'), sec('pg_dump -Fd -j2')),
      max: 0.5,
    },
    {
      name: 'repository size / dump size',
      value: ratio(sizes.tidemarkRepoW2.chunksAndBackupsBytes, dumpBytes),
      max: 1.1,
    },
    {
      name: 'restore time / pg_restore -j2',
      ...byRound('tidemark restore --workers 2', 'pg_restore -j2', sec),
      max: 1.0,
    },
    // Less sensitive to other load on the machine than wall clock: CPU seconds of tool + server.
    {
      name: 'info: backup CPU / pg_dump -j2 CPU (workers 2)',
      ...byRound('tidemark backup --workers 2', 'pg_dump -Fd -j2', cpu),
      max: Infinity,
    },
    {
      name: 'info: restore CPU / pg_restore -j2 CPU',
      ...byRound('tidemark restore --workers 2', 'pg_restore -j2', cpu),
      max: Infinity,
    },
    {
      name: 'info: restore --no-verify time / pg_restore -j2',
      ...byRound('tidemark restore --no-verify --workers 2', 'pg_restore -j2', sec),
      max: Infinity,
    },
    {
      name: 'info: restore --no-verify CPU / pg_restore -j2 CPU',
      ...byRound('tidemark restore --no-verify --workers 2', 'pg_restore -j2', cpu),
      max: Infinity,
    },
    ...Object.entries(runs)
      .filter(([, m]) => m.peakRssMB !== undefined)
      .map(([n, m]) => ({ name: `${n} peak RSS (MB)`, value: m.peakRssMB, max: 300, strict: true })),
  ].map((t) => ({ ...t, result: t.max === Infinity ? 'info' : verdict(t.value, t.max, 'strict' in t) }));
  const verdictOf = (name: string) => targets.find((t) => t.name === name)?.result ?? '';
  const targetValue = (name: string) => targets.find((t) => t.name === name)?.value;
  const vsMedian = (tool: string) => (ROUNDS > 1 ? `${tool}, median of ${ROUNDS}` : tool);
  const rss = (n: string) =>
    runs[n]?.peakRssMB === undefined ? '' : `${runs[n]!.peakRssMB!.toFixed(0)} MB ${verdictOf(`${n} peak RSS (MB)`)}`;
  const x = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(2)}x`);
  const tmSec = (m: Measured | undefined) =>
    m?.json?.seconds !== undefined ? ` (own ${Number(m.json.seconds).toFixed(2)} s)` : '';
  const cpuCols = (n: string) =>
    runs[n] ? [runs[n]!.treeCpuSeconds.toFixed(1), `${(runs[n]!.otherCpuShare * 100).toFixed(0)} %`] : ['', ''];
  const rows: string[][] = [
    ['operation', 'seconds', 'size', 'ratio', 'vs', 'target', 'result', 'peak RSS', 'CPU s', 'others'],
    [
      `generate (${SIZE_MB} MB asked)`,
      fmtS(gen.seconds),
      fmtMB(gen.databaseBytes),
      '',
      'pg_database_size',
      '',
      '',
      '',
      '',
      '',
    ],
    [
      'pg_dump -Fd -j2 (default -Z)',
      fmtS(sec('pg_dump -Fd -j2')),
      fmtMB(dumpBytes),
      '1.00x',
      'reference',
      '',
      '',
      '',
      ...cpuCols('pg_dump -Fd -j2'),
    ],
    [
      'pg_dump -Fd -j2 -Z0',
      fmtS(sec('pg_dump -Fd -j2 -Z0')),
      fmtMB(sizes.dumpZ0.bytes),
      '1.00x',
      'reference',
      '',
      '',
      '',
      ...cpuCols('pg_dump -Fd -j2 -Z0'),
    ],
  ];
  for (const w of [2, 4]) {
    const n = `tidemark backup --workers ${w}`;
    const repo = w === 2 ? sizes.tidemarkRepoW2 : sizes.tidemarkRepoW4;
    const judged = targetValue(`backup time / pg_dump -j2 (workers ${w})`);
    rows.push([
      n + tmSec(runs[n]),
      fmtS(sec(n)),
      fmtMB(repo.chunksAndBackupsBytes),
      x(judged),
      w === 2 ? vsMedian('pg_dump -j2') : 'pg_dump -j2',
      '<= 0.50x',
      verdictOf(`backup time / pg_dump -j2 (workers ${w})`),
      rss(n),
      ...cpuCols(n),
    ]);
    rows.push(['', '', '', x(ratio(sec(n), sec('pg_dump -Fd -j2 -Z0'))), 'pg_dump -j2 -Z0', '', 'info', '']);
  }
  rows.push([
    'repository (chunks+backups, workers 2)',
    '',
    fmtMB(sizes.tidemarkRepoW2.chunksAndBackupsBytes),
    x(ratio(sizes.tidemarkRepoW2.chunksAndBackupsBytes, dumpBytes)),
    'dump -j2 size',
    '<= 1.10x',
    verdictOf('repository size / dump size'),
    '',
  ]);
  rows.push([
    'repository (du, all files)',
    '',
    fmtMB(sizes.tidemarkRepoW2.totalDiskBytes),
    x(ratio(sizes.tidemarkRepoW2.totalDiskBytes, sizes.dumpDefault.diskBytes)),
    'dump du',
    '',
    'info',
    '',
  ]);
  rows.push([
    'pg_restore -j2',
    fmtS(sec('pg_restore -j2')),
    '',
    '1.00x',
    'reference',
    '',
    '',
    '',
    ...cpuCols('pg_restore -j2'),
  ]);
  const tr = 'tidemark restore --workers 2';
  rows.push([
    `${tr} (incl. verify)${tmSec(runs[tr])}`,
    fmtS(sec(tr)),
    '',
    x(targetValue('restore time / pg_restore -j2')),
    vsMedian('pg_restore -j2'),
    '<= 1.00x',
    verdictOf('restore time / pg_restore -j2'),
    rss(tr),
    ...cpuCols(tr),
  ]);
  const tn = 'tidemark restore --no-verify --workers 2';
  rows.push([
    `${tn}${tmSec(runs[tn])}`,
    fmtS(sec(tn)),
    '',
    x(targetValue('info: restore --no-verify time / pg_restore -j2')),
    vsMedian('pg_restore -j2'),
    '',
    'info',
    rss(tn),
    ...cpuCols(tn),
  ]);
  if (incremental) {
    const inc = incremental;
    const pct = (a: number | undefined, b: number | undefined) => {
      const r = ratio(a, b);
      return r === undefined ? '-' : `${(100 * r).toFixed(2)} %`;
    };
    const timeShare = ratio(inc.incremental.seconds, inc.full.seconds);
    const byteShare = ratio(inc.incremental.bytesStored, inc.full.bytesStored);
    targets.push(
      {
        name: 'incremental backup time / full backup time',
        value: timeShare,
        max: 0.25,
        result: verdict(timeShare, 0.25),
      },
      {
        name: 'incremental bytes uploaded / full backup bytes',
        value: byteShare,
        max: 0.03,
        result: verdict(byteShare, 0.03),
      },
    );
    rows.push([
      `tidemark backup --collection (full)`,
      fmtS(inc.full.seconds),
      fmtMB(inc.full.bytesStored),
      '1.00x',
      'reference',
      '',
      '',
      rss('tidemark backup --collection (full)'),
      ...cpuCols('tidemark backup --collection (full)'),
    ]);
    rows.push([
      `  after 1% churn of ${inc.table} (${inc.rowsChanged} rows)`,
      fmtS(inc.incremental.seconds),
      fmtMB(inc.incremental.bytesStored),
      pct(inc.incremental.seconds, inc.full.seconds),
      'full, time',
      '< 25 %',
      verdict(timeShare, 0.25),
      rss('tidemark backup --collection (after 1% churn)'),
      ...cpuCols('tidemark backup --collection (after 1% churn)'),
    ]);
    rows.push([
      '',
      '',
      '',
      pct(inc.incremental.bytesStored, inc.full.bytesStored),
      'full, bytes uploaded',
      '< 3 %',
      verdict(byteShare, 0.03),
      '',
    ]);
    rows.push([
      '',
      '',
      fmtMB(inc.repositoryGrowthBytes),
      pct(inc.repositoryGrowthBytes, inc.repositoryBytesAfterFull),
      'repository growth',
      '< 3 %',
      verdict(ratio(inc.repositoryGrowthBytes, inc.repositoryBytesAfterFull), 0.03),
      '',
    ]);
  }
  const totalSeconds = (performance.now() - benchStarted) / 1000;
  const noisy = Object.entries(runs)
    .filter(([, m]) => m.otherCpuShare > 0.1)
    .map(([n]) => n);
  process.stdout.write(
    '\n' +
      printTable(rows) +
      `\nRSS targets: < 300 MB (${Object.values(runs).find((m) => m.rssMethod)?.rssMethod ?? 'n/a'}). ` +
      `${ROUNDS > 1 ? `ratio of a timed pair: median of the ${ROUNDS} rounds' ratios (seconds and CPU s are round 1's). ` : ''}CPU s: CPU seconds of the command plus the server; others: share of all CPUs used by unrelated processes meanwhile. Whole bench: ${fmtS(totalSeconds)}.\n` +
      `CPU-second ratios (less sensitive to other load): ${targets
        .filter((t) => t.result === 'info' && t.name.includes(' CPU'))
        .map((t) => `${t.name.slice(6)} ${x(t.value)}`)
        .join('; ')}.\n` +
      (ROUNDS > 1
        ? `Medians over ${ROUNDS} rounds (each round's own ratio in parentheses):\n` +
          targets
            .filter((t) => 'rounds' in t)
            .map(
              (t) =>
                `  ${t.name.replace(/^info: /, '')}: ${x(t.value)} (${(t as { rounds: (number | undefined)[] }).rounds.map(x).join(', ')})\n`,
            )
            .join('')
        : '') +
      (noisy.length
        ? `WARNING: other processes used > 10 % of the machine during: ${noisy.join(', ')}; timings are not reliable.\n`
        : ''),
  );
  for (const [n, m] of Object.entries(runs)) if (!m.ok) process.stdout.write(`\n${n} FAILED: ${m.error}\n`);

  await mkdir(dirname(RESULTS), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    sizeMB: SIZE_MB,
    cpus: availableParallelism(),
    node: process.version,
    generation: gen,
    sourceRows,
    restoredRows: restored,
    runs,
    sizes,
    incremental,
    targets,
    totalSeconds,
  };
  await writeFile(RESULTS, JSON.stringify(result, null, 2) + '\n');
  log(`results written to ${RESULTS}`);
}

main().then(
  () => process.exit(failures > 0 ? 1 : 0),
  (err) => {
    process.stderr.write(`bench crashed: ${redact(String((err as Error)?.stack ?? err))}\n`);
    process.exit(1);
  },
);
