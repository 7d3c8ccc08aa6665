import { verifyBatch } from '#core/restore/verify.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreVerifyBatch', verifyBatch);
