// What the PITR CLI benches (bench/pitr-hour.ts, bench/pitr-bigtxn.ts) share: a work directory
// under $TMPDIR, the CLI they drive (rebuilt bundle, or BENCH_CLI), each command measured (wall
// clock, peak RSS, CPU of the bench's tree with the server, other processes' share), the
// machine's load, and a /proc sampler for processes that are not the bench's children.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SUPERUSER_PASSWORD } from '../test/support/postgres-server.ts';
import { cpuDelta, cpuSnapshot, dirSize, parseJsonOutput, runCommand } from './measure.ts';
import { redact, ROOT } from './harness.ts';

export const benchStarted = performance.now();
export const seconds = (from: number) => (performance.now() - from) / 1000;
export const round2 = (n: number) => Number(n.toFixed(2));
export const makeLog = (name: string) => (line: string) =>
  process.stderr.write(`[${name} ${seconds(benchStarted).toFixed(0).padStart(5)} s] ${line}\n`);

/** `--scale <MB>` on the command line, else the environment variable, else the default. */
export function scaleArg(envName: string, fallback: number): number {
  const i = process.argv.indexOf('--scale');
  const raw = i >= 0 ? process.argv[i + 1] : process.env[envName];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--scale / ${envName} must be a positive number, not "${raw}".\n`);
    process.exit(2);
  }
  return n;
}

/**
 * The CLI measured: BENCH_CLI (a `bin/tidemark.mjs` of another checkout, e.g. a clean export of
 * a commit while the working tree is being edited), else this checkout's, after rebuilding its
 * bundle as `npm run bench` does.
 */
export function tidemarkBin(): string {
  if (process.env.BENCH_CLI) return process.env.BENCH_CLI;
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs')], { stdio: 'inherit' });
  return join(ROOT, 'bin', 'tidemark.mjs');
}

export async function workDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.TMPDIR ?? tmpdir(), prefix));
}

export interface Step {
  name: string;
  ok: boolean;
  seconds: number;
  peakRssMB?: number;
  rssMethod?: string;
  treeCpuSeconds: number;
  otherCpuShare: number;
  json?: Record<string, unknown>;
  error?: string;
}

/** The machine's 1-minute load average now (the other engineers' tests share it). */
export const load1 = () => round2(loadavg()[0]!);

/**
 * Runs `tidemark <args>` (or another command) to completion and measures it. The source's
 * password reaches the CLI through PGPASSWORD (collections store their URL without it).
 */
export async function step(
  name: string,
  cmd: string,
  args: string[],
  work: string,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<Step> {
  const before = await cpuSnapshot();
  const loadBefore = load1();
  const r = await runCommand(cmd, args, {
    rss: true,
    cwd: ROOT,
    workDir: work,
    env: { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD, ...env },
  });
  const cpu = cpuDelta(before, await cpuSnapshot());
  const s: Step = {
    name,
    ok: r.code === 0,
    seconds: round2(r.seconds),
    peakRssMB: r.peakRssMB === undefined ? undefined : Math.round(r.peakRssMB),
    rssMethod: r.rssMethod,
    treeCpuSeconds: round2(cpu.treeCpuSeconds),
    otherCpuShare: round2(cpu.otherCpuShare),
    json: parseJsonOutput(r.stdout),
  };
  if (!s.ok) {
    s.error = redact(`exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`).slice(-3000);
    log(`${name} FAILED: ${s.error}`);
  } else
    log(
      `${name}: ${s.seconds} s, peak RSS ${s.peakRssMB ?? '?'} MB, ${s.treeCpuSeconds} CPU s, others ${Math.round(s.otherCpuShare * 100)} %, load ${loadBefore}→${load1()}`,
    );
  return s;
}

/**
 * Samples, every `ms` while a step runs: the size of a directory (the slot's spill files) and the
 * VmHWM and RssAnon of processes found by `pids()` (a server backend). Returns the peaks when stopped.
 */
export function sampler(opts: { dirs?: string[]; pids?: () => Promise<number[]>; ms?: number }) {
  const peakDirBytes: Record<string, number> = {};
  const peakHwmKB: Record<number, number> = {};
  const peakAnonKB: Record<number, number> = {};
  /** performance.now() when `pids()` first returned a process. */
  let firstPidAt: number | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const d of opts.dirs ?? []) peakDirBytes[d] = Math.max(peakDirBytes[d] ?? 0, (await dirSize(d)).bytes);
      const pids = (await opts.pids?.().catch(() => [])) ?? [];
      if (pids.length && firstPidAt === undefined) firstPidAt = performance.now();
      for (const pid of pids) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0);
        if (status) {
          peakHwmKB[pid] = Math.max(peakHwmKB[pid] ?? 0, kb('VmHWM'));
          // A backend's VmHWM counts the shared buffers it touched; RssAnon is its own memory.
          peakAnonKB[pid] = Math.max(peakAnonKB[pid] ?? 0, kb('RssAnon'));
        }
      }
      await new Promise((r) => setTimeout(r, opts.ms ?? 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { peakDirBytes, peakHwmKB, peakAnonKB, firstPidAt };
  };
}

export async function removeAll(...paths: string[]): Promise<void> {
  for (const p of paths) await rm(p, { recursive: true, force: true });
}
