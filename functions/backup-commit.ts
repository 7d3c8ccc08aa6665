import { commitBackup } from '#core/backup/commit.ts';
import { CommitInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupCommit', commitBackup).parsing(CommitInputSchema);
