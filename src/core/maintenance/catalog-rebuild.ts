// `catalog rebuild` (FORMAT.md, "Catalog rebuild"): the catalog is an index of the repository,
// so a lost or damaged catalog is rebuilt from the repository alone — collections from their
// definitions, backups from their committed manifests (expired where a tombstone says so), change
// segments' records from the segments: a manifest without its commit marker is a run that never
// committed, skipped and named (gc removes it), unless it was written before commit markers
// existed. Items already in the catalog are left as they are; a damaged object is reported and
// skipped, never guessed.
import type { BackupCatalog, BackupRecord } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { readManifestEntry, type Manifest } from '../repository/manifest.ts';
import { IntegrityError, TidemarkError } from '../errors.ts';
import { readCollectionDocument } from './collections.ts';
import { listRepositoryBackups, readCommitMarker } from './repository-backups.ts';
import { readTombstone } from './tombstone.ts';
import { withMaintenanceLease } from './lease.ts';
import { listSegmentPlaces, placeKey } from '../pitr/chain.ts';
import { readSegment, segmentRecords } from '../pitr/segment.ts';
import { segmentItemId, segmentRecordOf } from '../catalog/segments.ts';

export interface CatalogRebuildReport {
  collectionsImported: string[];
  backupsImported: string[];
  /** Change segments recorded (a count: an archive holds one a minute). */
  segmentsImported: number;
  /** Items (collections, backups, segments) the catalog already had. */
  alreadyPresent: number;
  /** Manifests of runs that never committed (no commit marker): not backups, gc removes them. */
  uncommitted: string[];
  /** Catalog items that were damaged, written again from the repository. */
  repaired: string[];
  /** Objects that could not be read: what and why. */
  damaged: { object: string; problem: string }[];
}

export async function rebuildCatalog(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  options: { waitSeconds?: number } = {},
): Promise<CatalogRebuildReport> {
  return withMaintenanceLease(
    ports.catalog,
    { purpose: 'catalog rebuild', waitSeconds: options.waitSeconds },
    async (lease) => {
      const report: CatalogRebuildReport = {
        collectionsImported: [],
        backupsImported: [],
        segmentsImported: 0,
        alreadyPresent: 0,
        uncommitted: [],
        repaired: [],
        damaged: [],
      };
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
          const state = await catalogState(() => ports.catalog.getCollection(name));
          if (state === 'present') return void report.alreadyPresent++;
          await ports.catalog.createCollection(await readCollectionDocument(ports.storage, name));
          (state === 'damaged' ? report.repaired : report.collectionsImported).push(name);
        });
      }
      for (const backup of await listRepositoryBackups(ports.storage)) {
        if (!backup.hasManifest) continue; // a tombstone alone: gc was removing it, nothing to restore
        await attempt(layout.manifest(backup.backupId), async () => {
          const state = await catalogState(() => ports.catalog.getBackup(backup.backupId));
          if (state === 'present') return void report.alreadyPresent++;
          await lease.assertHeld(`importing backup ${backup.backupId}`);
          const { manifest, marksCommits } = await readManifestEntry(ports.storage, backup.backupId);
          if (marksCommits && !backup.committed && !backup.expired)
            return void report.uncommitted.push(backup.backupId);
          if (backup.committed) await readCommitMarker(ports.storage, backup.backupId);
          const expiredAt = backup.expired
            ? (await readTombstone(ports.storage, backup.backupId)).expiredAt
            : undefined;
          await ports.catalog.importBackup(recordFromManifest(manifest, expiredAt));
          (state === 'damaged' ? report.repaired : report.backupsImported).push(backup.backupId);
        });
      }
      // Each segment read through the document layer (authenticated, bound to its key) and its
      // records checked: a forged or damaged one is named and skipped, as above.
      const recorded = new Map<string, Set<string>>();
      for (const place of await listSegmentPlaces(ports.storage)) {
        await attempt(placeKey(place), async () => {
          if (!recorded.has(place.collection)) {
            await lease.assertHeld(`recording the change segments of collection ${place.collection}`);
            const records = await ports.catalog.listSegments(place.collection);
            recorded.set(place.collection, new Set(records.map(segmentItemId)));
          }
          if (recorded.get(place.collection)!.has(segmentItemId(place))) return void report.alreadyPresent++;
          const segment = await readSegment(ports.storage, place);
          const xids = (await segmentRecords(segment)).flatMap((r) => (r.k === 'C' ? [r.xid] : []));
          await ports.catalog.recordSegment(segmentRecordOf(segment, xids));
          report.segmentsImported++;
        });
      }
      return report;
    },
  );
}

/** Whether the catalog has the item; a damaged one is imported again (the repository is the truth). */
async function catalogState(get: () => Promise<unknown>): Promise<'present' | 'absent' | 'damaged'> {
  try {
    return (await get()) ? 'present' : 'absent';
  } catch (err) {
    if (err instanceof IntegrityError) return 'damaged';
    throw err;
  }
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
