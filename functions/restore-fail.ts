import { failRestore } from '#core/restore/fail.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreFail', failRestore);
