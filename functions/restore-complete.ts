import { completeRestore } from '#core/restore/complete.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreComplete', completeRestore);
