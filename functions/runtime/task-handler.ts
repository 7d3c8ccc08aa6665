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
      if (err instanceof Error) {
        err.message = redactSecrets(err.message);
        if (err.stack) err.stack = redactSecrets(err.stack);
      }
      if (!isLocalRun()) logger.error(`${task} failed`, { error: redactSecrets(String((err as Error).message)), errorType: (err as Error).name });
      throw err;
    }
  };
}
