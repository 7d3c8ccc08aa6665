import { expireStep } from '#core/maintenance/expire-step.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('MaintenanceExpire', expireStep);
