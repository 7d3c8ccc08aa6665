import { completeRestore } from '#core/restore/complete.ts';
import { CompleteInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreComplete', completeRestore).parsing(CompleteInputSchema);
