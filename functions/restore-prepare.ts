import { prepareTarget } from '#core/restore/prepare.ts';
import { PrepareInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestorePrepare', prepareTarget).parsing(PrepareInputSchema);
