import { exportBatch } from '#core/backup/export.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupExportBatch', exportBatch);
