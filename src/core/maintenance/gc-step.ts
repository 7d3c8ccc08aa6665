// Step "CollectGarbage" of the maintenance state machine: remove what no restore point needs
// (expired manifests, unreferenced chunks, orphans of runs that never committed). The same core
// as `tidemark gc`, under the same lease, so backups and gc never race (FORMAT.md).
import type { TaskContext } from '../task-context.ts';
import { collectGarbage } from './gc.ts';
import { MAINTENANCE_WAIT_SECONDS } from './expire-step.ts';

export interface GcStepOutput {
  backupsKept: number;
  chunksDeleted: number;
  bytesFreed: number;
  chunksKept: number;
  manifestsRemoved: number;
  runsMarkedFailed: number;
  /** Chunks a kept manifest lists that the repository lacks: non-zero means run `verify`. */
  chunksMissing: number;
  /** The first missing chunk ids. */
  missingIds: string[];
}

export async function gcStep(_input: unknown, ctx: TaskContext): Promise<GcStepOutput> {
  const report = await collectGarbage(ctx, { waitSeconds: MAINTENANCE_WAIT_SECONDS });
  return {
    backupsKept: report.backupsKept,
    chunksDeleted: report.chunksDeleted,
    bytesFreed: report.bytesFreed,
    chunksKept: report.chunksKept,
    manifestsRemoved: report.manifestsRemoved.length,
    runsMarkedFailed: report.runsMarkedFailed.length,
    chunksMissing: report.chunksMissing.length,
    missingIds: report.chunksMissing.slice(0, 20),
  };
}
