import { expireStep } from '#core/maintenance/expire-step.ts';
import { ExpireInputSchema } from '#core/maintenance/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('MaintenanceExpire', expireStep).parsing(ExpireInputSchema);
