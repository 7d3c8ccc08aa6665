import { replayChanges } from '#core/restore/replay-step.ts';
import { ReplayInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreReplay', replayChanges).parsing(ReplayInputSchema);
