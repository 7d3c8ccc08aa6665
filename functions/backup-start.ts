import { startBackup } from '#core/backup/start.ts';
import { StartBackupInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupStart', startBackup).parsing(StartBackupInputSchema);
