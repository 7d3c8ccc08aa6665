// The bench's harness: where it works, how it logs, and how each step is measured (time, CPU of
// the command and the server, peak RSS, other load) and recorded under its name.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUPERUSER_PASSWORD } from '../test/support/postgres-server.ts';
import { cpuDelta, cpuSnapshot, fmtS, parseJsonOutput, runCommand, type RunResult } from './measure.ts';

export const benchStarted = performance.now();
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WORK = join(ROOT, 'bench', '.work');
export const RESULTS = join(ROOT, 'bench', 'results', 'latest.json');
export const SIZE_MB = Number(process.env.BENCH_SIZE_MB ?? 1024);
/** Rounds of the timed pairs (Tidemark and the pg tool side by side); targets use the median ratio. */
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) {
  process.stderr.write(`BENCH_ROUNDS must be a whole number of at least 1, not "${process.env.BENCH_ROUNDS}".\n`);
  process.exit(2);
}
export const SOURCE_DB = 'bench_source';
export const log = (line: string) =>
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
export const redact = (s: string) =>
  s.replaceAll(SUPERUSER_PASSWORD, '***').replaceAll(encodeURIComponent(SUPERUSER_PASSWORD), '***');

export interface Measured {
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
export const runs: Record<string, Measured> = {};
/** Steps that failed; the bench exits non-zero when any did. */
export const outcome = { failures: 0 };

/** Runs one measured command, records it under `name`, and logs the outcome. */
export async function measure(
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
    outcome.failures++;
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

export const tidemark = (args: string[], suffix = '') =>
  measure(
    `tidemark ${args[0]}${args.includes('--no-verify') ? ' --no-verify' : ''} --workers ${args.at(-1)}${suffix}`,
    process.execPath,
    [join(ROOT, 'bin', 'tidemark.mjs'), ...args],
    { rss: true },
  );
/** Names of the measurements of rounds after the first. */
export const inRound = (name: string, round: number) => (round === 1 ? name : `${name} (round ${round})`);
