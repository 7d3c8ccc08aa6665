import { loadBatch } from '#core/restore/load.ts';
import { RestoreBatchInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreLoadBatch', loadBatch).parsing(RestoreBatchInputSchema);
