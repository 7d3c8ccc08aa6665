// Measurement helpers for the benchmark: wall clock, peak RSS of a child process, directory sizes,
// and locating the PostgreSQL client binaries. Nothing here is installed globally.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunResult {
  command: string;
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child in MB, when asked for. */
  peakRssMB?: number;
  rssMethod?: 'gnu-time' | 'proc-poll';
}

/** The pg_dump/pg_restore of major 15 (the server's major), else whatever is on PATH. */
export function pgBin(name: 'pg_dump' | 'pg_restore'): string {
  const pinned = `/usr/lib/postgresql/15/bin/${name}`;
  return existsSync(pinned) ? pinned : name;
}

let gnuTime: boolean | undefined;
/** GNU time is used for peak RSS only when present and working; /proc polling is the fallback. */
function hasGnuTime(): boolean {
  if (gnuTime === undefined) {
    gnuTime =
      process.env.BENCH_RSS_METHOD !== 'proc' &&
      existsSync('/usr/bin/time') &&
      spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;
  }
  return gnuTime;
}

async function readVmHwmKB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined; // the process already exited
  }
}

/**
 * Runs a command to completion and times it with performance.now(). With `rss`, also records the
 * peak RSS: via `/usr/bin/time -f %M -o <file>` when available, else by reading VmHWM (the
 * kernel's high-water mark) from /proc/<pid>/status every 100 ms and keeping the last value.
 */
export async function runCommand(
  cmd: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; rss?: boolean; workDir?: string } = {},
): Promise<RunResult> {
  const useTime = options.rss && hasGnuTime();
  const timeFile = join(options.workDir ?? '/tmp', `rss-${process.pid}-${Date.now()}.txt`);
  const [file, argv] = useTime ? ['/usr/bin/time', ['-f', '%M', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const started = performance.now();
  const child = spawn(file, argv, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let hwmKB: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (options.rss && !useTime && child.pid) {
    const pid = child.pid;
    timer = setInterval(() => {
      void readVmHwmKB(pid).then((kb) => {
        if (kb !== undefined) hwmKB = Math.max(hwmKB ?? 0, kb);
      });
    }, 100);
  }
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  const seconds = (performance.now() - started) / 1000;
  if (timer) clearInterval(timer);
  if (useTime) {
    const text = await readFile(timeFile, 'utf8').catch(() => '');
    const kb = Number(text.trim().split('\n').pop());
    if (Number.isFinite(kb) && kb > 0) hwmKB = kb;
    await rm(timeFile, { force: true });
  }
  const result: RunResult = { command: [cmd, ...args].join(' '), code, seconds, stdout, stderr };
  if (options.rss) {
    result.rssMethod = useTime ? 'gnu-time' : 'proc-poll';
    if (hwmKB !== undefined) result.peakRssMB = hwmKB / 1024;
  }
  return result;
}

export interface DirSize {
  /** Sum of file sizes (apparent bytes). */
  bytes: number;
  /** Allocated bytes on disk (st_blocks × 512), what `du` reports. */
  diskBytes: number;
  files: number;
}

/** Walks a directory (or sizes one file); a missing path is zero. */
export async function dirSize(path: string): Promise<DirSize> {
  const total: DirSize = { bytes: 0, diskBytes: 0, files: 0 };
  let st;
  try {
    st = await lstat(path);
  } catch {
    return total;
  }
  if (st.isDirectory()) {
    total.diskBytes += st.blocks * 512;
    for (const entry of await readdir(path)) {
      const sub = await dirSize(join(path, entry));
      total.bytes += sub.bytes;
      total.diskBytes += sub.diskBytes;
      total.files += sub.files;
    }
  } else {
    total.bytes += st.size;
    total.diskBytes += st.blocks * 512;
    total.files += 1;
  }
  return total;
}

export interface CpuSnapshot {
  at: number;
  busy: number;
  total: number;
  tree: number;
}
const TICK = 100; // USER_HZ, in /proc/stat and /proc/<pid>/stat

/**
 * CPU accounting from /proc: machine-wide busy/total ticks, and the CPU used by this process's
 * tree (the bench, its commands, and the PostgreSQL server it started), counting children that
 * already exited through cutime/cstime. The difference between two snapshots tells how much CPU
 * the measured step used, and how much other processes on the machine used meanwhile (noise).
 */
export async function cpuSnapshot(): Promise<CpuSnapshot> {
  const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const busy = user + nice + system + irq + softirq + steal;
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f.length > 14)
      procs.set(Number(name), {
        ppid: Number(f[1]),
        ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
      });
  }
  let tree = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    tree += procs.get(pid)?.ticks ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) stack.push(child);
  }
  return { at: performance.now(), busy: busy / TICK, total: (busy + idle + iowait) / TICK, tree: tree / TICK };
}

/** CPU seconds used by the bench's tree between two snapshots, and the share of all CPUs others used. */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): { treeCpuSeconds: number; otherCpuShare: number } {
  const treeCpuSeconds = b.tree - a.tree;
  const other = Math.max(0, b.busy - a.busy - treeCpuSeconds);
  return { treeCpuSeconds, otherCpuShare: b.total > a.total ? other / (b.total - a.total) : 0 };
}

export const MB = 1024 * 1024;
export const fmtMB = (bytes: number | undefined) => (bytes === undefined ? '-' : `${(bytes / MB).toFixed(1)} MB`);
export const fmtS = (s: number | undefined) => (s === undefined ? '-' : `${s.toFixed(2)} s`);

/** The last JSON document a CLI printed on stdout, or undefined. */
export function parseJsonOutput(stdout: string): Record<string, unknown> | undefined {
  const start = stdout.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(start)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Left-aligned text table; the first row is the header. */
export function printTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n') + '\n';
}
