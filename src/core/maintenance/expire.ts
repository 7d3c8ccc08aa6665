// `expire`: applies each collection's retention policy. For every backup the policy drops, the
// tombstone goes to the repository FIRST, then the catalog moves the backup to `expired`: the
// repository is the source of truth, so a crash in between leaves a tombstone that the next
// run completes in the catalog, never a catalog entry the repository contradicts.
// Nothing is deleted here; gc removes what expired backups alone needed.
import type { BackupCatalog, BackupRecord, CollectionRecord } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { applyRetention, type KeptBackup } from './retention.ts';
import { findCollection } from './collections.ts';
import { withMaintenanceLease, type HeldLease } from './lease.ts';
import { readTombstone, writeTombstone } from './tombstone.ts';
import { readManifest } from '../repository/manifest.ts';
import { IntegrityError, TidemarkError } from '../errors.ts';

export interface ExpireOptions {
  /** One collection; default: every collection. */
  collection?: string;
  dryRun?: boolean;
  /** How long to wait for another maintenance task holding the lease (default 0). */
  waitSeconds?: number;
}

export interface CollectionExpiry {
  collection: string;
  kept: KeptBackup[];
  /** Backups this run expired (or, with dry-run, would expire). */
  expired: string[];
  /** Tombstoned in the repository by an earlier, interrupted run; completed in the catalog now. */
  completed: string[];
}

export interface ExpireReport {
  dryRun: boolean;
  collections: CollectionExpiry[];
}

export async function expireBackups(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  options: ExpireOptions = {},
): Promise<ExpireReport> {
  const collections = options.collection
    ? [await findCollection(ports, options.collection)]
    : await ports.catalog.listCollections();
  return withMaintenanceLease(ports.catalog, { purpose: 'expire', waitSeconds: options.waitSeconds }, async (lease) => {
    const backups = await ports.catalog.listBackups();
    const report: ExpireReport = { dryRun: Boolean(options.dryRun), collections: [] };
    for (const collection of collections) {
      report.collections.push(await expireCollection(ports, collection, backups, lease, Boolean(options.dryRun)));
    }
    return report;
  });
}

async function expireCollection(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  collection: CollectionRecord,
  allBackups: BackupRecord[],
  lease: HeldLease,
  dryRun: boolean,
): Promise<CollectionExpiry> {
  const committed = allBackups.filter((b) => b.collection === collection.name && b.state === 'committed');
  // A tombstone without the catalog transition is an interrupted expire: finish it, and keep
  // the backup out of the policy (it is no restore point any more).
  // Read, not just seen: a forged or misplaced tombstone stops expire, naming it.
  const tombstoned = new Set<string>();
  for (const b of committed) {
    if (await ports.storage.head(layout.backupExpired(b.backupId))) {
      await readTombstone(ports.storage, b.backupId);
      tombstoned.add(b.backupId);
    }
  }
  const decision = applyRetention(
    committed
      .filter((b) => !tombstoned.has(b.backupId))
      .map((b) => ({ backupId: b.backupId, time: b.snapshotTime ?? b.startedAt })),
    collection.retention,
  );
  const result: CollectionExpiry = {
    collection: collection.name,
    kept: decision.keep,
    expired: decision.expire,
    completed: [...tombstoned],
  };
  if (decision.expire.length > 0) await checkKept(ports.storage, collection.name, decision);
  if (dryRun) return result;
  for (const backupId of [...tombstoned, ...decision.expire]) {
    await lease.assertHeld(`expiring backup ${backupId}`);
    const tombstone = await writeTombstone(ports.storage, {
      backupId,
      collection: collection.name,
      expiredAt: new Date().toISOString(),
    });
    await ports.catalog.expireBackup(backupId, tombstone.expiredAt);
  }
  return result;
}

/**
 * The backups retention keeps must be restore points before any other is expired: a kept backup
 * whose manifest is damaged or forged would leave the collection with none. Refuses, naming it.
 */
async function checkKept(
  storage: RepositoryStorage,
  collection: string,
  decision: { keep: KeptBackup[]; expire: string[] },
): Promise<void> {
  for (const { backupId } of decision.keep) {
    try {
      await readManifest(storage, backupId);
    } catch (err) {
      if (!(err instanceof TidemarkError)) throw err;
      throw new IntegrityError(
        `expire changed nothing in collection ${collection}: backup ${backupId}, which its retention keeps, cannot be read ` +
          `(${err.message}) Expiring ${decision.expire.join(', ')} could leave no restore point. ` +
          `Run \`tidemark verify ${backupId}\`, repair its manifest from a copy of the repository, or take a new backup first.`,
        { cause: err },
      );
    }
  }
}
