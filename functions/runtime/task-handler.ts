// Every Lambda handler is this adapter around one task function: get the ports, run, return.
// Errors keep their `name`, which is the `errorType` the ASL Retry/Catch match.
import { Logger } from '@aws-lambda-powertools/logger';
import type { TaskContext } from '#core/task-context.ts';
import { redactSecrets } from '#core/errors.ts';
import { currentTaskContext, isLocalRun } from './context.ts';

const logger = new Logger({ serviceName: 'tidemark' });

export function taskHandler<I, O>(task: string, run: (input: I, ctx: TaskContext) => Promise<O>): (event: I) => Promise<O> {
  return async (event: I) => {
    const ctx = await currentTaskContext();
    try {
      return await run(event, ctx);
    } catch (err) {
      // The message and stack become the Lambda's errorMessage and trace, then the Cause in the
      // execution history and the run's catalog record: no password may reach them.
      const redacted = withoutSecrets(err);
      if (!isLocalRun()) logger.error(`${task} failed`, { error: redacted.message, errorType: redacted.name });
      throw redacted;
    }
  };
}

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
