import { startBackup } from '#core/backup/start.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupStart', startBackup);
