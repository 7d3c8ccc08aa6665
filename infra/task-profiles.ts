// What each task is given comes from the task registry (functions/index.ts): one entry per
// task, with its handler, file, memory, timeout and access. Infra reads it from here.
import { TASKS } from '../functions/index.ts';
import type { TaskProfile } from '../functions/runtime/task-profile.ts';

export type { CatalogAction, RepositoryArea, TaskAccess, TaskProfile } from '../functions/runtime/task-profile.ts';

export const TASK_PROFILES: Readonly<Record<string, TaskProfile>> = Object.fromEntries(
  Object.entries(TASKS).map(([name, t]) => [
    name,
    { memoryMb: t.memoryMb, timeoutSeconds: t.timeoutSeconds, access: t.access },
  ]),
);

/** Fails synth when a function has no profile (a test may pass a table without one). */
export function profileOf(name: string, profiles: Readonly<Record<string, TaskProfile>> = TASK_PROFILES): TaskProfile {
  const profile = profiles[name];
  if (!profile)
    throw new Error(
      `functions/index.ts defines ${name}, which has no profile in the table given: add its memory, timeout and access.`,
    );
  return profile;
}
