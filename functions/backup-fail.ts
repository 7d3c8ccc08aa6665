import { failBackup } from '#core/failure.ts';
import { FailBackupInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupFail', failBackup).parsing(FailBackupInputSchema);
