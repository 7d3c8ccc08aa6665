// The bench's report: ratios against pg_dump / pg_restore (a timed pair is judged on the median
// of its rounds' own ratios), the table on stdout, and bench/results/latest.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import type { generateDatabase } from './generate.ts';
import type { IncrementalResult } from './incremental.ts';
import { type DirSize, fmtMB, fmtS, printTable } from './measure.ts';
import { benchStarted, inRound, log, type Measured, RESULTS, ROUNDS, runs, SIZE_MB } from './harness.ts';

/** A Tidemark repository's size (undefined when its backup failed). */
export interface RepoSize {
  chunksAndBackupsBytes: number | undefined;
  totalBytes: number | undefined;
  totalDiskBytes: number | undefined;
  files: number;
}

export interface BenchFigures {
  gen: Awaited<ReturnType<typeof generateDatabase>>;
  sourceRows: Record<string, number>;
  restored: Record<string, Record<string, number> | string>;
  sizes: {
    sourceDatabaseBytes: number;
    tidemarkRepoW2: RepoSize;
    tidemarkRepoW4: RepoSize;
    dumpDefault: DirSize;
    dumpZ0: DirSize;
  };
  incremental: IncrementalResult | undefined;
}

export async function report({ gen, sourceRows, restored, sizes, incremental }: BenchFigures): Promise<void> {
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
