// How the CLI speaks: JSON alone on stdout with --json; otherwise short human lines.
import { TidemarkError, redactSecrets } from '#core/errors.ts';
import { ExecutionFailedError } from '#local/state-machine-runner.ts';

export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function say(line: string): void {
  process.stderr.write(line + '\n');
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Prints a failure and returns the exit code: never 0. */
export function reportFailure(err: unknown, options: OutputOptions): number {
  const name = err instanceof ExecutionFailedError ? err.errorName : ((err as Error)?.name ?? 'Error');
  const message = redactSecrets((err as Error)?.message ?? String(err));
  // A usage error found inside a task (e.g. an unparsable --source URL) is still a usage error.
  const exitCode =
    err instanceof ExecutionFailedError && err.errorName === 'UsageError'
      ? 2
      : err instanceof TidemarkError
        ? err.exitCode
        : 1;
  if (options.json) printJson({ ok: false, error: { type: name, message } });
  process.stderr.write(`tidemark: ${message}\n`);
  if (!(err instanceof TidemarkError) && process.env.TIDEMARK_DEBUG)
    process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  return exitCode === 0 ? 1 : exitCode;
}
