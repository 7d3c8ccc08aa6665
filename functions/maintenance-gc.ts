import { gcStep } from '#core/maintenance/gc-step.ts';
import { GcInputSchema } from '#core/maintenance/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('MaintenanceGc', gcStep).parsing(GcInputSchema);
