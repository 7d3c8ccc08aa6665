import { failBackup } from '#core/failure.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupFail', failBackup);
