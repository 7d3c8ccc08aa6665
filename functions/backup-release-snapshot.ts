import { releaseSnapshot } from '#core/backup/hold-snapshot.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupReleaseSnapshot', releaseSnapshot);
