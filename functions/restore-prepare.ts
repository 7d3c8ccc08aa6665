import { prepareTarget } from '#core/restore/prepare.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestorePrepare', prepareTarget);
