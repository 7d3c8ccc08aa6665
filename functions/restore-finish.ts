import { finishRestore } from '#core/restore/finish.ts';
import { FinishInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreFinish', finishRestore).parsing(FinishInputSchema);
