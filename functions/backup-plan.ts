import { planBackup } from '#core/backup/plan.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupPlan', planBackup);
