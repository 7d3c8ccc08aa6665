import { finishRestore } from '#core/restore/finish.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreFinish', finishRestore);
