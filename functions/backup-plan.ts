import { planBackup } from '#core/backup/plan.ts';
import { PlanInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupPlan', planBackup).parsing(PlanInputSchema);
