import { resolveRestore } from '#core/restore/resolve.ts';
import { ResolveInputSchema } from '#core/restore/task-inputs.ts';
import { taskHandler } from './runtime/task-handler.ts';

export const handler = taskHandler('RestoreResolve', resolveRestore).parsing(ResolveInputSchema);
