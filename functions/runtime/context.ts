// Where a handler gets its ports. The local runner runs each task inside `withTaskContext`, so
// concurrent executions in one process each see their own repository and databases. In AWS
// the context is built once per container from the environment (aws-context.ts), on first use.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskContext } from '#core/task-context.ts';

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
  // Loaded only here, so local runs never load the AWS adapters' SDK clients.
  const { awsTaskContext } = await import('./aws-context.ts');
  return awsTaskContext();
}
