// The catalog: the index of backups and restores. A file-backed implementation locally
// (`src/adapters/file-catalog.ts`), DynamoDB in AWS. Every write is a single-item conditional
// write (no transactions), so DynamoDB can implement it with ConditionExpression alone.
// The rules below are implemented once, in `src/core/catalog/` (CatalogCore); a backend supplies
// only its reads and conditional writes. test/contract/catalog-*.ts pins them on every backend.
// The repository is the source of truth; the catalog can be rebuilt by scanning it.
import type { SegmentCatalog } from './segment-catalog.ts';

export type RunState = 'running' | 'committed' | 'failed';

/** A backup's state: a run state, or `expired` once retention removed a committed backup. */
export type BackupState = RunState | 'expired';

/** Retention of a collection (FORMAT.md, "Retention"): keep-last plus grandfather-father-son. */
export interface RetentionPolicy {
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

/** A named series of backups of one database (FORMAT.md, "Collections"). */
export interface CollectionRecord {
  name: string;
  /** ISO-8601. */
  createdAt: string;
  /**
   * How tasks reach the source: a credentials name (resolved by the task context: a Secrets
   * Manager secret in AWS) or, locally, a connection URL with the password removed.
   */
  source: string;
  /** Where the source is, without credentials: `host:port/database`. */
  sourceDescription: string;
  /** Cron expression of the schedule (informational locally; EventBridge Scheduler in AWS). */
  schedule?: string;
  retention: RetentionPolicy;
}

/**
 * A lease: exclusive, time-bounded ownership of a named activity (FORMAT.md, "Garbage
 * collection"). Taken and released with single-item conditional writes.
 */
export interface Lease {
  name: string;
  /** Random id of the holder; only the holder renews or releases. */
  owner: string;
  /** What holds it, for messages: e.g. `gc`, `expire`, `catalog rebuild`. */
  purpose: string;
  acquiredAt: string;
  /** ISO-8601; past this instant the lease is free for anyone to take. Holders renew it (heartbeat). */
  expiresAt: string;
  /** The local process holding it: once that process is gone (same host), the lease is free. */
  holder?: { host: string; pid: number };
}

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
  state: BackupState;
  /** The collection the backup belongs to, if any. */
  collection?: string;
  /** The backup this one is incremental on (FORMAT.md, "Incremental backups"); null for a full one. */
  parent?: string | null;
  /**
   * Latest instant the run may still commit (ISO-8601): a `running` backup past it is dead and
   * holds nothing back (gc stops waiting for it).
   */
  deadline?: string;
  /** ISO-8601, set when retention expired the backup. */
  expiredAt?: string;
  /** Local runs: the process running every task (host and pid); gone = the run is dead. */
  runner?: { host: string; pid: number };
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
  /** Local runs: the process running the restore (as a backup's); gone while `running` = interrupted. */
  runner?: { host: string; pid: number };
  /** `--tablespace-map`: source tablespace → the target's, for the objects in it; absent when none. */
  tablespaceMap?: Record<string, string>;
  warnings?: string[];
  error?: string;
  /**
   * A point-in-time restore: what Resolve planned (restore/replay-plan.ts), so that a resumed one
   * replays to the same point; `verify`: whether the backup's tables were to be read back first.
   */
  replay?: {
    collection: string;
    to: string;
    chain: string;
    segments: number;
    point: { xid: string; lsn: string; time: string };
    verify: boolean;
  };
  /** A point-in-time restore: the last archived commit it replayed through, and what it replayed. */
  pointInTime?: { reached: { xid: string; lsn: string; time: string }; transactions: number; changes: number };
}

export interface BackupCatalog extends SegmentCatalog {
  /**
   * Records a new backup in state `running`. Fails with `CatalogConflictError` if the id exists
   * with different content; succeeds (idempotent) when the identical record is already there
   * (compared as JSON: key order and undefined fields do not count). Every method refuses an id
   * that is not letters, digits and `. _ : -` (not first), at most 200 characters, with
   * `InvalidKeyError`, before touching the store.
   */
  createBackup(record: BackupRecord): Promise<void>;

  /**
   * Moves a backup from `running` to `committed` or `failed`, merging `changes` (a change whose
   * value is undefined removes the field; the id never changes). Conditional on the current state
   * being `running`; a repeat of the same transition is a no-op (idempotent retry) that returns
   * the stored record. Any other current state, or another target state, throws
   * `CatalogConflictError`; an unknown backup `BackupNotFoundError`.
   */
  finishBackup(
    backupId: string,
    changes: Partial<BackupRecord> & { state: 'committed' | 'failed' },
  ): Promise<BackupRecord>;

  /** The record, or `undefined`. */
  getBackup(backupId: string): Promise<BackupRecord | undefined>;

  /** All backups, oldest first. */
  listBackups(): Promise<BackupRecord[]>;

  /**
   * Items the lists left out because they cannot be read (a damaged file of the file catalog),
   * each naming its file and what to do. Optional: stores whose items cannot be damaged alone
   * do not implement it.
   */
  unreadableItems?(): Promise<string[]>;

  /**
   * Every backup in state `running`, oldest first (as listBackups), read with a strongly consistent
   * read: it sees every createBackup (and every finish) that completed before the call began.
   * gc relies on this (FORMAT.md, "Garbage collection"): a backup that registered before gc
   * looked must be seen, or gc could delete chunks the backup is about to reference.
   * (`listBackups` may lag: on DynamoDB it reads an eventually consistent index.)
   */
  listRunningBackups(): Promise<BackupRecord[]>;

  /** Same semantics as createBackup, for restores. */
  createRestore(record: RestoreRecord): Promise<void>;

  /** Same semantics as finishBackup, for restores; an unknown restore is a `CatalogConflictError`. */
  finishRestore(
    restoreId: string,
    changes: Partial<RestoreRecord> & { state: 'committed' | 'failed' },
  ): Promise<RestoreRecord>;

  getRestore(restoreId: string): Promise<RestoreRecord | undefined>;

  /** Every restore in state `running`, oldest first, seeing every create and finish that completed. */
  listRunningRestores(): Promise<RestoreRecord[]>;

  /**
   * Moves a committed backup to `expired` (setting `expiredAt`). Conditional on `committed`;
   * repeating it on an expired backup is a no-op. Any other state throws `CatalogConflictError`.
   */
  expireBackup(backupId: string, expiredAt: string): Promise<BackupRecord>;

  /**
   * Writes a record exactly as given, in any state, unless one exists (then: no-op when
   * identical, `CatalogConflictError` otherwise). Used by `catalog rebuild` only.
   */
  importBackup(record: BackupRecord): Promise<void>;

  /** Creates a collection; idempotent for an identical record, `CatalogConflictError` otherwise. */
  createCollection(record: CollectionRecord): Promise<void>;

  getCollection(name: string): Promise<CollectionRecord | undefined>;

  /** All collections, by name. */
  listCollections(): Promise<CollectionRecord[]>;

  /**
   * Takes the lease `lease.name` if nobody holds it or its holder's lease expired (at `now`).
   * Returns `undefined` on success, else the current holder's lease.
   */
  acquireLease(lease: Lease, now: Date): Promise<Lease | undefined>;

  /** The current lease, or `undefined`; an expired lease is returned too (compare expiresAt). */
  getLease(name: string): Promise<Lease | undefined>;

  /** Frees the lease if `owner` holds it; a no-op otherwise (it expired and was taken, or is gone). */
  releaseLease(name: string, owner: string): Promise<void>;
}
