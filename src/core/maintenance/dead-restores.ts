// Restores whose process died. A local restore runs in one CLI process, recorded as its `runner`
// (restore/resolve.ts); killed, it leaves its record `running` for ever, though it can never
// finish. gc finds those whose process is gone on this host (run-liveness.ts) and marks them
// `failed`, saying how to resume them. It never touches the target database: the partial work
// there is what a resume carries on with. A restore without a runner (AWS: the state machine
// owns it, and its Catch marks it failed) is left alone.
import type { BackupCatalog, RestoreRecord } from '../ports/catalog.ts';
import { CatalogConflictError, TidemarkError } from '../errors.ts';
import { processGone } from './run-liveness.ts';

/** The error recorded on a restore whose process is gone. */
export function interruptedRestoreError(record: RestoreRecord): string {
  return (
    `Interrupted: its process (pid ${record.runner?.pid} on ${record.runner?.host}) is gone; marked failed by gc. ` +
    `The target ${record.target} was left as it is: resume the restore with \`tidemark restore --resume ${record.restoreId}\` ` +
    '(same --target), or drop that database and restore again.'
  );
}

/** Marks `failed` every running restore whose local process is gone; returns their ids. */
export async function failDeadRestores(catalog: BackupCatalog, now: Date): Promise<string[]> {
  const marked: string[] = [];
  for (const record of await catalog.listRunningRestores()) {
    if (!record.runner || !processGone(record.runner)) continue;
    try {
      // Conditional on `running`: a restore that finished meanwhile keeps its state.
      await catalog.finishRestore(record.restoreId, {
        state: 'failed',
        finishedAt: now.toISOString(),
        error: interruptedRestoreError(record),
      });
      marked.push(record.restoreId);
    } catch (err) {
      if (err instanceof CatalogConflictError) continue;
      // Best effort (e.g. a full disk): gc must go on to free space.
      if (!(err instanceof TidemarkError)) throw err;
    }
  }
  return marked;
}
