import { awaitSnapshot } from '#core/backup/hold-snapshot.ts';
import { AwaitSnapshotInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupAwaitSnapshot', awaitSnapshot).parsing(AwaitSnapshotInputSchema);
