// What every task function receives: the ports, plus optional progress reporting.
import type { RepositoryStorage } from './ports/storage.ts';
import type { BackupCatalog } from './ports/catalog.ts';
import type { DatabaseConnector } from './ports/database.ts';

export interface ProgressEvent {
  phase: 'export' | 'load' | 'verify' | 'schema';
  table?: string;
  rows?: number;
  /** Uncompressed bytes read or loaded since the previous event. */
  bytes?: number;
  /** Compressed bytes written since the previous event. */
  storedBytes?: number;
  chunks?: number;
  /** Tables finished (verify reports each table once). */
  tablesDone?: number;
  /**
   * Sent once the work ahead is known (backup: by Plan; restore: by Prepare): the bytes to move
   * (an estimate for a backup: heap sizes) and, per table, how many units of work it takes.
   */
  expected?: { bytes: number; unitsPerTable: Record<string, number> };
  /**
   * One unit of `table`'s work finished (export task in a backup; chunk or layer in a restore),
   * named so that a retry reporting it again counts once.
   */
  unitDone?: string;
}

/** `expected.unitsPerTable` from one table name per unit of work. */
export function unitsPerTable(names: Iterable<string>): Record<string, number> {
  const units: Record<string, number> = {};
  for (const name of names) units[name] = (units[name] ?? 0) + 1;
  return units;
}

export interface TaskContext {
  storage: RepositoryStorage;
  catalog: BackupCatalog;
  databases: DatabaseConnector;
  /** Called often during long work; must be cheap. A no-op in AWS. */
  progress(event: ProgressEvent): void;
  /**
   * Local mode: the one process that runs every task of a run. Recorded with the backup, so gc
   * knows a run whose process is gone can never commit. Absent in AWS.
   */
  runner?: { host: string; pid: number };
  /**
   * The longest this runtime can hold a snapshot open, in seconds: in AWS the Lambda limit less
   * a minute (LAMBDA_SNAPSHOT_HOLD_SECONDS). Absent locally, where nothing bounds it.
   */
  maxSnapshotHoldSeconds?: number;
}
