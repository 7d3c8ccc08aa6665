import { exportBatch } from '#core/backup/export.ts';
import { ExportBatchInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupExportBatch', exportBatch).parsing(ExportBatchInputSchema);
