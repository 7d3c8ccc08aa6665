import { gcStep } from '#core/maintenance/gc-step.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('MaintenanceGc', gcStep);
