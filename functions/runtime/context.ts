// Where a handler gets its ports. The local runner runs each task inside `withTaskContext`, so
// concurrent executions in one process each see their own repository and databases. In AWS
// the context is built once per container from the environment (S3, DynamoDB, Secrets Manager
// adapters arrive with the AWS deployment).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskContext } from '#core/task-context.ts';
import { TidemarkError } from '#core/errors.ts';

const ambient = new AsyncLocalStorage<TaskContext>();

export function withTaskContext<T>(ctx: TaskContext, run: () => Promise<T>): Promise<T> {
  return ambient.run(ctx, run);
}

export function isLocalRun(): boolean {
  return ambient.getStore() !== undefined;
}

export async function currentTaskContext(): Promise<TaskContext> {
  const local = ambient.getStore();
  if (local) return local;
  throw new TidemarkError('No task context: this handler runs under the local runner only until the AWS adapters (S3, DynamoDB, Secrets Manager) are deployed.');
}
