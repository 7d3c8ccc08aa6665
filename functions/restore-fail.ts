import { failRestore } from '#core/restore/fail.ts';
import { FailRestoreInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreFail', failRestore).parsing(FailRestoreInputSchema);
