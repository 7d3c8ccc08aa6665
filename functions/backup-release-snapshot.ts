import { releaseSnapshot } from '#core/backup/hold-snapshot.ts';
import { ReleaseSnapshotInputSchema } from '#core/backup/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('BackupReleaseSnapshot', releaseSnapshot).parsing(ReleaseSnapshotInputSchema);
