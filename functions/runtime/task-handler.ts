// Every Lambda handler is this adapter around one task function: get the ports, run, return.
// Errors keep their `name`, which is the `errorType` the ASL Retry/Catch match.
// In AWS each invocation logs one line when it ends (Powertools logger, keyed by the task and
// the run's ids) and publishes its figures as CloudWatch metrics (Powertools EMF): seconds per
// step, and rows and bytes where the step reports them. Local runs log nothing here: the CLI
// shows progress instead.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { TaskContext } from '#core/task-context.ts';
import { redactSecrets } from '#core/errors.ts';
import { currentTaskContext, isLocalRun } from './context.ts';
import { logger } from './logger.ts';

const metrics = new Metrics({ namespace: 'Tidemark', serviceName: 'tidemark' });

/** Ids a task input may carry; they become keys of every log line of the invocation. */
const RUN_KEYS = ['backupId', 'restoreId', 'collection', 'batch'] as const;

export function taskHandler<I, O>(
  task: string,
  run: (input: I, ctx: TaskContext) => Promise<O>,
): (event: I) => Promise<O> {
  return async (event: I) => {
    const ctx = await currentTaskContext();
    const local = isLocalRun();
    const keys = { task, ...runKeys(event) };
    const started = performance.now();
    try {
      const output = await run(event, ctx);
      if (!local) report(task, keys, output, (performance.now() - started) / 1000);
      return output;
    } catch (err) {
      // The message and stack become the Lambda's errorMessage and trace, then the Cause in the
      // execution history and the run's catalog record: no password may reach them.
      const redacted = withoutSecrets(err);
      if (!local) {
        logger.error(`${task} failed`, {
          ...keys,
          error: redacted.message,
          errorType: redacted.name,
          seconds: round((performance.now() - started) / 1000),
        });
        publish(task, (performance.now() - started) / 1000, {}, false);
      }
      throw redacted;
    }
  };
}

function runKeys(event: unknown): Record<string, string | number> {
  const keys: Record<string, string | number> = {};
  const e = (event ?? {}) as Record<string, unknown>;
  for (const name of RUN_KEYS) {
    const value = e[name];
    if (typeof value === 'string' || typeof value === 'number') keys[name] = value;
  }
  return keys;
}

/** Rows and bytes a step's output reports (export results, commit, restore completion …). */
function figures(output: unknown): { rows?: number; bytes?: number } {
  const o = (output ?? {}) as Record<string, unknown>;
  const number = (...names: string[]) =>
    names.map((n) => o[n]).find((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return { rows: number('rows'), bytes: number('bytesRead', 'bytes', 'bytesWritten') };
}

function report(task: string, keys: Record<string, string | number>, output: unknown, seconds: number): void {
  const f = figures(output);
  logger.info(`${task} done`, { ...keys, seconds: round(seconds), ...f });
  publish(task, seconds, f, true);
}

function publish(task: string, seconds: number, f: { rows?: number; bytes?: number }, ok: boolean): void {
  metrics.addDimension('task', task);
  metrics.addMetric('Seconds', MetricUnit.Seconds, round(seconds));
  metrics.addMetric(ok ? 'Succeeded' : 'Failed', MetricUnit.Count, 1);
  if (f.rows !== undefined) metrics.addMetric('Rows', MetricUnit.Count, f.rows);
  if (f.bytes !== undefined) metrics.addMetric('Bytes', MetricUnit.Bytes, f.bytes);
  metrics.publishStoredMetrics();
}

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * The error with passwords redacted from its message and stack, its class and `name` kept (the
 * ASL's Retry and Catch match the name). Something thrown that is not an Error, or whose message
 * cannot be changed, becomes a new Error of the same name.
 */
function withoutSecrets(err: unknown): Error {
  if (err instanceof Error) {
    try {
      err.message = redactSecrets(err.message);
      if (typeof err.stack === 'string') err.stack = redactSecrets(err.stack);
      return err;
    } catch {
      // frozen, or a read-only message: fall through to a copy
    }
  }
  const e = err as { name?: unknown; message?: unknown } | null | undefined;
  const copy = new Error(redactSecrets(String(e?.message ?? err)));
  copy.name = typeof e?.name === 'string' ? e.name : 'Error';
  return copy;
}
