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
  tablesDone?: number;
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
