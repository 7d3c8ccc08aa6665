// Every Lambda handler is this adapter around one task function: parse the event with the task's
// schema (src/core/*/task-inputs.ts), get the ports, run, return. Errors keep their `name`, which
// is the `errorType` the ASL Retry/Catch match; a malformed event is a UsageError, not retried.
// In AWS each invocation logs one line when it ends (Powertools logger, keyed by the task and
// the run's ids) and publishes its figures as CloudWatch metrics (Powertools EMF): seconds per
// step, and rows and bytes where the step reports them. Local runs log nothing here: the CLI
// shows progress instead.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { z } from 'zod';
import type { TaskContext } from '#core/task-context.ts';
import { redactSecrets } from '#core/errors.ts';
import { parseTaskInput } from '#core/task-input.ts';
import { currentTaskContext, isLocalRun } from './context.ts';
import { logger } from './logger.ts';

const metrics = new Metrics({ namespace: 'Tidemark', serviceName: 'tidemark' });

/** Ids a task input may carry; they become keys of every log line of the invocation. */
const RUN_KEYS = ['backupId', 'restoreId', 'collection', 'batch'] as const;

export interface TaskHandler<O = unknown> {
  (event: unknown): Promise<O>;
  /** The schema the event is parsed with before the task runs (the registry's `input`). */
  readonly input?: z.ZodType;
}

export interface UnparsedTaskHandler<I, O> extends TaskHandler<O> {
  /**
   * The same handler, parsing its event with `input` first. The schema's output must be what the
   * task function takes, so the two cannot drift apart unnoticed.
   */
  parsing<S extends z.ZodType<I>>(input: S): TaskHandler<O> & { readonly input: S };
}

/**
 * The handler of `task`, running `run`. The handlers in functions/ all add `.parsing(schema)`: the
 * registry requires each task's `input`; the bare form passes the event unchecked (tests).
 */
export function taskHandler<I, O>(
  task: string,
  run: (input: I, ctx: TaskContext) => Promise<O>,
): UnparsedTaskHandler<I, O> {
  const handler = build(task, run) as UnparsedTaskHandler<I, O>;
  return Object.assign(handler, {
    parsing: <S extends z.ZodType<I>>(input: S) => Object.assign(build(task, run, input), { input }),
  });
}

function build<I, O>(
  task: string,
  run: (input: I, ctx: TaskContext) => Promise<O>,
  input?: z.ZodType<I>,
): (event: unknown) => Promise<O> {
  return async (event: unknown) => {
    const local = isLocalRun();
    const keys = { task, ...runKeys(event) };
    const started = performance.now();
    const failed = (err: unknown): Error => {
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
      return redacted;
    };
    // Before the context: a malformed event fails without touching the repository or a database.
    let parsed: I;
    try {
      parsed = input ? parseTaskInput(task, input, event) : (event as I);
    } catch (err) {
      throw failed(err);
    }
    // The context's own failure (a container without its environment) propagates as it is.
    const ctx = await currentTaskContext();
    try {
      const output = await run(parsed, ctx);
      if (!local) report(task, keys, output, (performance.now() - started) / 1000);
      return output;
    } catch (err) {
      throw failed(err);
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
