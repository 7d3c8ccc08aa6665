import { commitBackup } from '#core/backup/commit.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupCommit', commitBackup);
