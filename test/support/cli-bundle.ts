// The command line as one bundle, for tests that start (and kill) many processes: about a third
// of the start-up of the sources through tsx. `buildCliBundle` runs `npm run build`'s script once;
// `spawnBundledCli` starts the bundle as spawnCli (cli.ts) starts bin/tidemark.mjs, with an
// environment free of the caller's TIDEMARK_* settings.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { collect, type CliOptions, type CliResult } from './cli.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('./run-bundle.mjs', import.meta.url));

/** Bundles the current sources into dist/tidemark.mjs (scripts/build-cli.mjs); throws with its output on failure. */
export function buildCliBundle(): void {
  const built = spawnSync(process.execPath, [`${ROOT}scripts/build-cli.mjs`], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`scripts/build-cli.mjs failed:\n${built.stdout}\n${built.stderr}`);
}

export function spawnBundledCli(args: string[], options: CliOptions = {}): ChildProcess {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TIDEMARK_')) env[k] = v;
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return spawn(process.execPath, [RUNNER, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface KilledRun extends CliResult {
  /** Ended by the SIGKILL (false: it finished before the kill came). */
  killed: boolean;
  ms: number;
}

/** Runs a command of the bundled CLI and kills it (SIGKILL) `afterMs` after its start, unless it ended first. */
export async function runAndKill(args: string[], afterMs: number, options: CliOptions = {}): Promise<KilledRun> {
  const started = performance.now();
  const child = spawnBundledCli(args, options);
  const done = collect(child, options.timeoutMs);
  const timer = setTimeout(() => child.kill('SIGKILL'), afterMs);
  try {
    const result = await done;
    return { ...result, killed: result.signal === 'SIGKILL', ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same kill moments. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
