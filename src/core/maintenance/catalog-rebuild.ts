// `catalog rebuild` (FORMAT.md, "Catalog rebuild"): the catalog is an index of the repository,
// so a lost or damaged catalog is rebuilt from the repository alone — collections from their
// definitions, backups from their manifests (expired where a tombstone says so). Items already
// in the catalog are left as they are; a damaged object is reported and skipped, never guessed.
import type { BackupCatalog, BackupRecord } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { readManifest, type Manifest } from '../repository/manifest.ts';
import { TidemarkError } from '../errors.ts';
import { readCollectionDocument } from './collections.ts';
import { listRepositoryBackups } from './repository-backups.ts';
import { readTombstone } from './tombstone.ts';
import { withMaintenanceLease } from './lease.ts';

export interface CatalogRebuildReport {
  collectionsImported: string[];
  backupsImported: string[];
  /** Ids (backups and collections) the catalog already had. */
  alreadyPresent: number;
  /** Objects that could not be read: what and why. */
  damaged: { object: string; problem: string }[];
}

export async function rebuildCatalog(ports: { storage: RepositoryStorage; catalog: BackupCatalog }, options: { waitSeconds?: number } = {}): Promise<CatalogRebuildReport> {
  return withMaintenanceLease(ports.catalog, { purpose: 'catalog rebuild', ttlSeconds: 900, waitSeconds: options.waitSeconds }, async (lease) => {
    const report: CatalogRebuildReport = { collectionsImported: [], backupsImported: [], alreadyPresent: 0, damaged: [] };
    // A damaged object is recorded and skipped: one bad manifest must not hide every other backup.
    const attempt = async (object: string, work: () => Promise<void>) => {
      try {
        await work();
      } catch (err) {
        if (!(err instanceof TidemarkError)) throw err;
        report.damaged.push({ object, problem: err.message });
      }
    };
    for await (const { key } of ports.storage.list(layout.collectionsPrefix())) {
      const name = key.slice(layout.collectionsPrefix().length).replace(/\.json$/, '');
      if (key !== layout.collection(name)) continue;
      await attempt(key, async () => {
        if (await ports.catalog.getCollection(name)) return void report.alreadyPresent++;
        await ports.catalog.createCollection(await readCollectionDocument(ports.storage, name));
        report.collectionsImported.push(name);
      });
    }
    for (const backup of await listRepositoryBackups(ports.storage)) {
      if (!backup.hasManifest) continue; // a tombstone alone: gc was removing it, nothing to restore
      await attempt(layout.manifest(backup.backupId), async () => {
        if (await ports.catalog.getBackup(backup.backupId)) return void report.alreadyPresent++;
        await lease.assertHeld(`importing backup ${backup.backupId}`);
        const manifest = await readManifest(ports.storage, backup.backupId);
        const expiredAt = backup.expired ? (await readTombstone(ports.storage, backup.backupId)).expiredAt : undefined;
        await ports.catalog.importBackup(recordFromManifest(manifest, expiredAt));
        report.backupsImported.push(backup.backupId);
      });
    }
    return report;
  });
}

/** The catalog record a commit (and, with `expiredAt`, an expire) would have left. */
export function recordFromManifest(manifest: Manifest, expiredAt: string | undefined): BackupRecord {
  const record: BackupRecord = {
    backupId: manifest.backupId,
    state: expiredAt ? 'expired' : 'committed',
    collection: manifest.collection,
    parent: manifest.parent,
    startedAt: manifest.startedAt,
    finishedAt: manifest.committedAt,
    source: manifest.source.description,
    serverVersion: manifest.source.serverVersion,
    snapshotTime: manifest.snapshot.time,
    snapshotLsn: manifest.snapshot.lsn ?? undefined,
    manifestKey: layout.manifest(manifest.backupId),
    stats: manifest.stats,
    warnings: manifest.warnings,
    expiredAt,
  };
  // Absent, not undefined: stores compare and marshal records field by field.
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as BackupRecord;
}
