// Step "StartBackup": record the run in the catalog as `running`, with the deadline past which it
// may no longer commit, and — in a collection — the parent it is incremental on. Nothing about it
// looks committed until "Commit" succeeds. Then wait while garbage collection holds the
// repository (FORMAT.md, "Garbage collection"): registering first and checking second is what
// makes gc and backups see each other. Before all this, the repository's marker is read, or
// written when the repository has none yet (a bucket the AWS stack made).
import type { DatabaseRef } from '../ports/database.ts';
import type { PlanOptions } from './plan.ts';
import type { TaskContext } from '../task-context.ts';
import type { BackupCatalog, BackupRecord, RetentionPolicy } from '../ports/catalog.ts';
import { createCollection } from '../maintenance/collections.ts';
import { MAINTENANCE_LEASE, leaseHolderMayBeAlive } from '../maintenance/lease.ts';
import { newRunId } from '../ids.ts';
import {
  CollectionNotFoundError,
  MaintenanceInProgressError,
  RunDeadlineError,
  UsageError,
  redactSecrets,
} from '../errors.ts';
import { sleep } from '../retry.ts';
import { ensureRepositoryMarker } from '../repository/repository.ts';

export interface StartBackupInput {
  source: DatabaseRef;
  /** Supplied by the caller for idempotent retries; generated otherwise. */
  backupId?: string;
  /** The collection this backup belongs to: it is incremental on the collection's latest backup. */
  collection?: string;
  /** A full backup in the collection (no parent), e.g. after a point-in-time recovery of the source. */
  full?: boolean;
  /** Scheduled runs (AWS) carry their collection's definition: the first run creates it. */
  collectionDefinition?: { schedule?: string; retention: RetentionPolicy };
  options?: {
    workers?: number;
    snapshotHoldSeconds?: number;
    maintenanceWaitSeconds?: number;
    plan?: Partial<PlanOptions>;
  };
}

/**
 * What the later states read ($.run): the ids, the source, and the options with their defaults,
 * so that an execution started by hand with a partial input cannot fail on a missing path
 * (a States.Runtime error, which no Catch handles).
 */
export interface BackupRunState {
  backupId: string;
  startedAt: string;
  source: DatabaseRef;
  options: { workers: number; snapshotHoldSeconds: number; plan: Partial<PlanOptions> };
}

export const DEFAULT_BACKUP_WORKERS = 4;
/** An inline Map runs at most 40 iterations at once. */
export const MAX_BACKUP_WORKERS = 40;

/** After its snapshot window, a run still commits (Commit's retries): this long at most. */
const COMMIT_WINDOW_SECONDS = 30 * 60;
const DEFAULT_HOLD_SECONDS = 86_400;
/** In AWS the StartBackup function's timeout (5 min) bounds this. */
const DEFAULT_MAINTENANCE_WAIT_SECONDS = 240;
const POLL_MS = 1000;

export async function startBackup(input: StartBackupInput, ctx: TaskContext): Promise<BackupRunState> {
  const holdSeconds = snapshotWindow(input, ctx);
  const workers = input.options?.workers ?? DEFAULT_BACKUP_WORKERS;
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_BACKUP_WORKERS) {
    throw new UsageError(
      `options.workers must be a whole number from 1 to ${MAX_BACKUP_WORKERS}, not ${JSON.stringify(workers)}.`,
    );
  }
  if (!input.source || typeof input.source.credentials !== 'string' || input.source.credentials === '') {
    throw new UsageError(
      'The backup input names no source: give {"source": {"credentials": "<secret ARN or name>", "database": "<name>"}}.',
    );
  }
  const state = (backupId: string, startedAt: string): BackupRunState => ({
    backupId,
    startedAt,
    source: input.source,
    options: { workers, snapshotHoldSeconds: holdSeconds, plan: input.options?.plan ?? {} },
  });
  // The first backup into a repository the stack made (AWS) writes its marker, so the CLI can open
  // it; every start checks it, so nothing is recorded for a repository whose marker is forged or
  // was replaced.
  await ensureRepositoryMarker(ctx.storage);
  const backupId = input.backupId ?? newRunId();
  const existing = await ctx.catalog.getBackup(backupId);
  if (existing) {
    // A retry of this step. A run that already ended must not go on: gc no longer protects it.
    if (existing.state !== 'running') {
      throw new RunDeadlineError(
        `Backup ${backupId} is ${existing.state}; a run that ended cannot continue. Start a new backup.`,
      );
    }
    await awaitMaintenance(ctx.catalog, backupId, input);
    return state(backupId, existing.startedAt);
  }
  if (input.collection && !(await ctx.catalog.getCollection(input.collection))) {
    if (!input.collectionDefinition) {
      throw new CollectionNotFoundError(
        `Collection ${input.collection} does not exist in the catalog at ${ctx.storage.location}. Create it with \`tidemark collection create ${input.collection} --source …\`, or see \`tidemark collection list\`.`,
      );
    }
    await createCollection(ctx, {
      name: input.collection,
      source: input.source.credentials,
      sourceDescription: ctx.databases.describe(input.source),
      ...input.collectionDefinition,
    });
  }
  // Connecting first fails fast on a wrong URL or password, and resolves the credentials, so
  // the catalog describes the source as host:port/database (not a secret's name).
  let unreachable: unknown;
  try {
    await (await ctx.databases.connect(input.source, { applicationName: 'tidemark start' })).close();
  } catch (err) {
    if (err instanceof UsageError) throw err; // a malformed URL or option: nothing to record
    unreachable = err;
  }
  const started = new Date();
  const record: BackupRecord = {
    backupId,
    state: 'running',
    startedAt: started.toISOString(),
    source: ctx.databases.describe(input.source),
    deadline: new Date(started.getTime() + (holdSeconds + COMMIT_WINDOW_SECONDS) * 1000).toISOString(),
    ...(ctx.runner ? { runner: ctx.runner } : {}),
  };
  if (input.collection) {
    record.collection = input.collection;
    record.parent = input.full ? null : ((await latestCommitted(ctx.catalog, input.collection))?.backupId ?? null);
  }
  await ctx.catalog.createBackup(record);
  if (unreachable) {
    // This step has no failure handler of its own in the ASL (no run id exists before it), so it
    // records the failure itself: `list` shows it, and nothing looks committed.
    await fail(ctx.catalog, backupId, unreachable);
    throw unreachable;
  }
  await awaitMaintenance(ctx.catalog, backupId, input);
  return state(backupId, record.startedAt);
}

/** The collection's newest committed backup: the parent of the next one. */
export async function latestCommitted(catalog: BackupCatalog, collection: string): Promise<BackupRecord | undefined> {
  const committed = (await catalog.listBackups()).filter((b) => b.collection === collection && b.state === 'committed');
  return committed[committed.length - 1];
}

/**
 * The export window, checked before anything is recorded. An execution started in AWS by hand
 * or by a rule carries whatever its input says; a window the runtime cannot hold (a Lambda
 * stops at 15 minutes) would end in a timeout instead of SnapshotExpiredError, so it is refused.
 */
function snapshotWindow(input: StartBackupInput, ctx: TaskContext): number {
  const max = ctx.maxSnapshotHoldSeconds;
  const value: unknown = input.options?.snapshotHoldSeconds ?? Math.min(DEFAULT_HOLD_SECONDS, max ?? Infinity);
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(
      `options.snapshotHoldSeconds must be a positive number of seconds, not ${JSON.stringify(value)}. Start the backup with a valid export window.`,
    );
  }
  if (max !== undefined && value > max) {
    throw new UsageError(
      `options.snapshotHoldSeconds ${value} is longer than a snapshot can be held here: at most ${max} s (a Lambda runs at most 15 minutes, and the holder stops a minute before). ` +
        `Start the backup with options.snapshotHoldSeconds of ${max} or less, and more workers if the export needs longer.`,
    );
  }
  return value;
}

async function awaitMaintenance(catalog: BackupCatalog, backupId: string, input: StartBackupInput): Promise<void> {
  const waitMs = (input.options?.maintenanceWaitSeconds ?? DEFAULT_MAINTENANCE_WAIT_SECONDS) * 1000;
  const until = Date.now() + waitMs;
  for (;;) {
    const lease = await catalog.getLease(MAINTENANCE_LEASE);
    if (!lease || lease.purpose !== 'gc' || !leaseHolderMayBeAlive(lease, new Date())) return;
    if (Date.now() >= until) {
      const error = new MaintenanceInProgressError(
        `Backup ${backupId} did not start: garbage collection holds the repository (lease until ${lease.expiresAt}) and did not finish within ${Math.round(waitMs / 1000)} s. Run the backup again when it has finished.`,
      );
      await fail(catalog, backupId, error);
      throw error;
    }
    await sleep(POLL_MS);
  }
}

async function fail(catalog: BackupCatalog, backupId: string, err: unknown): Promise<void> {
  await catalog.finishBackup(backupId, {
    state: 'failed',
    finishedAt: new Date().toISOString(),
    error: redactSecrets((err as Error).message),
  });
}
