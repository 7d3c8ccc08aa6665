// The catalog: the index of backups and restores. A file-backed implementation locally
// (`src/adapters/file-catalog.ts`), DynamoDB in AWS. Every write is a single-item conditional
// write (no transactions), so DynamoDB can implement it with ConditionExpression alone.
// The repository is the source of truth; the catalog can be rebuilt by scanning it.

export type RunState = 'running' | 'committed' | 'failed';

export interface BackupStats {
  tables: number;
  rows: number;
  /** Bytes of COPY text read from the source. */
  bytesRead: number;
  /** Bytes this backup newly wrote to the repository (compressed). */
  bytesStored: number;
  /** Stored (compressed) size of every chunk the backup needs. */
  bytesReferenced: number;
  chunks: number;
}

export interface BackupRecord {
  backupId: string;
  state: RunState;
  /** ISO-8601 times. */
  startedAt: string;
  finishedAt?: string;
  /** Where the source is, without credentials: `host:port/database`. */
  source: string;
  serverVersion?: string;
  /** Snapshot point: the instant and WAL position all readers saw. */
  snapshotTime?: string;
  snapshotLsn?: string;
  /** Repository key of the manifest, set at commit. */
  manifestKey?: string;
  stats?: BackupStats;
  warnings?: string[];
  /** Failure reason, credentials redacted. */
  error?: string;
}

export interface RestoreRecord {
  restoreId: string;
  backupId: string;
  state: RunState;
  startedAt: string;
  finishedAt?: string;
  /** `host:port/database` of the target, without credentials. */
  target: string;
  warnings?: string[];
  error?: string;
}

export interface BackupCatalog {
  /**
   * Records a new backup in state `running`. Fails with `CatalogConflictError` if the id exists
   * with different content; succeeds (idempotent) when the identical record is already there.
   */
  createBackup(record: BackupRecord): Promise<void>;

  /**
   * Moves a backup from `running` to `committed` or `failed`, merging `changes`.
   * Conditional on the current state being `running`; a repeat of the same transition is a
   * no-op (idempotent retry). Any other current state throws `CatalogConflictError`.
   */
  finishBackup(backupId: string, changes: Partial<BackupRecord> & { state: 'committed' | 'failed' }): Promise<BackupRecord>;

  /** The record, or `undefined`. */
  getBackup(backupId: string): Promise<BackupRecord | undefined>;

  /** All backups, oldest first. */
  listBackups(): Promise<BackupRecord[]>;

  /** Same semantics as createBackup, for restores. */
  createRestore(record: RestoreRecord): Promise<void>;

  /** Same semantics as finishBackup, for restores. */
  finishRestore(restoreId: string, changes: Partial<RestoreRecord> & { state: 'committed' | 'failed' }): Promise<RestoreRecord>;

  getRestore(restoreId: string): Promise<RestoreRecord | undefined>;
}
