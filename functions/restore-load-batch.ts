import { loadBatch } from '#core/restore/load.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreLoadBatch', loadBatch);
