import { holdSnapshot } from '#core/backup/hold-snapshot.ts';
import { HoldSnapshotInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupHoldSnapshot', holdSnapshot).parsing(HoldSnapshotInputSchema);
