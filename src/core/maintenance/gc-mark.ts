// gc, phase "mark": every chunk some restore point still needs. The repository decides, not the
// catalog: every `backups/<id>/manifest.json` without a tombstone is a restore point — except the
// manifest of a run that never committed (no commit marker, and the catalog says `failed`), an
// orphan gc removes. A committed backup whose marker is missing (its commit died just before
// writing it) gets it back here. A manifest
// or tombstone that cannot be read stops gc before it deletes anything: a chunk that only a
// damaged manifest lists would otherwise look unreferenced.
import type { RepositoryStorage } from '../ports/storage.ts';
import type { BackupCatalog } from '../ports/catalog.ts';
import { writeDocument } from '../repository/documents.ts';
import { commitMarkerKind } from '../repository/document-formats.ts';
import type { ChunkId } from '../ids.ts';
import { layout } from '../repository/layout.ts';
import { manifestChunkRefs, readManifest } from '../repository/manifest.ts';
import { IntegrityError, TidemarkError } from '../errors.ts';
import { listRepositoryBackups, readCommitMarker } from './repository-backups.ts';
import { readTombstone } from './tombstone.ts';
import { forEachInParallel } from '../parallel.ts';

export interface MarkResult {
  /** Chunk keys (`chunks/<aa>/<id>`) needed by a restore point. */
  referenced: Set<string>;
  /** Backups that are restore points. */
  live: string[];
  /** Tombstoned backups still holding a manifest and/or their tombstone, with the tombstone's expiredAt. */
  expired: { backupId: string; hasManifest: boolean; expiredAt: string }[];
  /** Manifests of runs that never committed: no restore point, removed by the sweep. */
  orphans: string[];
  /**
   * Backups the catalog says are expired whose manifest is back without its tombstone (replayed,
   * or a tombstone lost): no restore point, but their chunks are kept and nothing is removed.
   */
  expiredInCatalog: string[];
}

export async function markReferencedChunks(
  storage: RepositoryStorage,
  catalog: BackupCatalog,
  options: { repair: boolean },
): Promise<MarkResult> {
  const backups = await listRepositoryBackups(storage);
  // `expired` is final, so even an eventually consistent list is right about it.
  const expiredIds = new Set((await catalog.listBackups()).filter((b) => b.state === 'expired').map((b) => b.backupId));
  const result: MarkResult = { referenced: new Set(), live: [], expired: [], orphans: [], expiredInCatalog: [] };
  await forEachInParallel(backups, 8, async (backup) => {
    try {
      if (backup.expired) {
        const tombstone = await readTombstone(storage, backup.backupId);
        result.expired.push({
          backupId: backup.backupId,
          hasManifest: backup.hasManifest,
          expiredAt: tombstone.expiredAt,
        });
      } else if (backup.hasManifest) {
        if (!backup.committed) {
          // Strongly consistent, and states only move forward: `failed` never becomes committed.
          const record = await catalog.getBackup(backup.backupId);
          if (record?.state === 'failed') return void result.orphans.push(backup.backupId);
          if (record?.state === 'committed' && options.repair) {
            const marker = { backupId: backup.backupId, committedAt: record.finishedAt ?? new Date().toISOString() };
            // A repair, best effort: a full disk must not stop gc from freeing space.
            await writeDocument(storage, commitMarkerKind, { backupId: backup.backupId }, marker).catch(
              (err: unknown) => {
                if (!(err instanceof TidemarkError)) throw err;
              },
            );
          }
        }
        // A marker copied from another backup or forged must not make a run look committed.
        if (backup.committed) await readCommitMarker(storage, backup.backupId);
        const manifest = await readManifest(storage, backup.backupId);
        for (const ref of manifestChunkRefs(manifest)) result.referenced.add(layout.chunk(ref.id as ChunkId));
        if (expiredIds.has(backup.backupId)) result.expiredInCatalog.push(backup.backupId);
        else result.live.push(backup.backupId);
      }
    } catch (err) {
      if (!(err instanceof TidemarkError)) throw err;
      throw new IntegrityError(
        `gc refuses to delete anything: it cannot read what backup ${backup.backupId} needs (${err.message}) ` +
          'Run `tidemark verify` on it; repair the object from a copy of the repository, or remove the whole backups/' +
          `${backup.backupId}/ directory by hand if the backup is beyond repair, then run gc again.`,
        { cause: err },
      );
    }
  });
  result.live.sort();
  result.orphans.sort();
  result.expiredInCatalog.sort();
  result.expired.sort((a, b) => (a.backupId < b.backupId ? -1 : 1));
  return result;
}
