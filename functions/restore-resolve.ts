import { resolveRestore } from '#core/restore/resolve.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreResolve', resolveRestore);
