import { verifyBatch } from '#core/restore/verify.ts';
import { RestoreBatchInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreVerifyBatch', verifyBatch).parsing(RestoreBatchInputSchema);
