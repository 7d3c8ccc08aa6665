// Step "Complete": the last step of a restore. Drops the progress tables, then marks the restore
// committed in the catalog — success is recorded only after everything else succeeded.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { RestoreRecord } from '../ports/catalog.ts';
import { dropProgressTables, listWarnings, progressOwner } from './progress-table.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { dropAndCreateEventTriggers } from './event-triggers.ts';
import type { ReplayProgress } from './replay-step.ts';

export interface CompleteInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  /** True once the Verify step compared every table with the backup; false when it was skipped. */
  verified?: boolean;
  /** A point-in-time restore's finished replay (ReplayChanges); `reached` is null for a restore to a backup. */
  replayed?: ReplayProgress | { done: true; reached: null };
}

export interface CompleteOutput {
  restoreId: string;
  backupId: string;
  target: string;
  tables: number;
  rows: number;
  bytes: number;
  /** Row counts and content checksums were read back and matched (not skipped with --no-verify). */
  verified: boolean;
  /** The first warnings (all of them are in the catalog record); keeps the payload small. */
  warnings: string[];
  warningCount: number;
  /** `--tablespace-map` as applied: source tablespace → the target's (the catalog record has it too). */
  tablespaceMap?: Record<string, string>;
  /** A point-in-time restore: the exact point reached (the last archived commit replayed) and what was replayed. */
  pointInTime?: RestoreRecord['pointInTime'];
}

const WARNINGS_IN_OUTPUT = 50;

/** Recorded with a restore whose read-back verification was skipped, so its record says so. */
export const NOT_VERIFIED_WARNING =
  'Read-back verification was skipped (--no-verify): row counts and content checksums of the restored tables were not compared with the backup. Chunk hashes were checked while loading.';

export async function completeRestore(input: CompleteInput, ctx: TaskContext): Promise<CompleteOutput> {
  const manifest = await cachedManifest(ctx.storage, input.backupId);
  const verified = input.verified === true;
  const session = await ctx.databases.connect(input.target, { applicationName: 'tidemark complete' });
  let warnings: string[];
  try {
    if ((await progressOwner(session)) === input.restoreId) {
      warnings = [...(verified ? [] : [NOT_VERIFIED_WARNING]), ...manifest.warnings, ...(await listWarnings(session))];
      // The source's event triggers come last, with the drop (event-triggers.ts).
      warnings.push(...(await dropAndCreateEventTriggers(session, manifest.schema, () => dropProgressTables(session))));
    } else {
      // A retry after the drop: the catalog has the warnings if the first attempt got that far.
      const recorded = (await ctx.catalog.getRestore(input.restoreId))?.warnings ?? manifest.warnings;
      warnings = verified || recorded.includes(NOT_VERIFIED_WARNING) ? recorded : [NOT_VERIFIED_WARNING, ...recorded];
    }
  } finally {
    await session.close();
  }
  const replayed = input.replayed;
  const pointInTime =
    replayed && 'transactions' in replayed && replayed.reached
      ? { reached: replayed.reached, transactions: replayed.transactions, changes: replayed.changes }
      : undefined;
  const record = await ctx.catalog.getRestore(input.restoreId);
  if (record?.state !== 'committed') {
    await ctx.catalog.finishRestore(input.restoreId, {
      state: 'committed',
      finishedAt: new Date().toISOString(),
      warnings,
      ...(pointInTime ? { pointInTime } : {}),
    });
  }
  return {
    restoreId: input.restoreId,
    backupId: input.backupId,
    target: ctx.databases.describe(input.target),
    tables: manifest.tables.length,
    rows: manifest.stats.rows,
    // COPY bytes loaded: every table's rows and layers (an incremental backup read fewer).
    bytes: manifest.tables.reduce((sum, t) => sum + t.bytes + (t.layers ?? []).reduce((s, l) => s + l.bytes, 0), 0),
    verified,
    warnings: warnings.slice(0, WARNINGS_IN_OUTPUT),
    warningCount: warnings.length,
    ...(record?.tablespaceMap ? { tablespaceMap: record.tablespaceMap } : {}),
    ...(pointInTime ? { pointInTime } : {}),
  };
}
