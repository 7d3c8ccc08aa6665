// What the repository itself says about its backups (it is the source of truth, not the
// catalog): which ids have a manifest and which carry a tombstone.
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { readDocument } from '../repository/documents.ts';
import { commitMarkerKind, type CommitMarker } from '../repository/document-formats.ts';

export interface RepositoryBackup {
  backupId: string;
  hasManifest: boolean;
  /** Has its commit marker (written after the catalog commit). */
  committed: boolean;
  expired: boolean;
}

/** Every backup directory under `backups/`, in id (= start time) order. */
export async function listRepositoryBackups(storage: RepositoryStorage): Promise<RepositoryBackup[]> {
  const byId = new Map<string, RepositoryBackup>();
  for await (const { key } of storage.list(layout.backupsPrefix())) {
    const backupId = key.slice(layout.backupsPrefix().length).split('/')[0]!;
    const entry = byId.get(backupId) ?? { backupId, hasManifest: false, committed: false, expired: false };
    if (key === layout.manifest(backupId)) entry.hasManifest = true;
    if (key === layout.backupExpired(backupId)) entry.expired = true;
    if (key === layout.backupCommitted(backupId)) entry.committed = true;
    byId.set(backupId, entry);
  }
  return [...byId.values()].sort((a, b) => (a.backupId < b.backupId ? -1 : a.backupId > b.backupId ? 1 : 0));
}

/**
 * Reads a backup's commit marker: authenticated and bound to the backup, so a marker copied from
 * another backup or forged cannot make a run that never committed look committed.
 */
export async function readCommitMarker(storage: RepositoryStorage, backupId: string): Promise<CommitMarker> {
  return readDocument(storage, commitMarkerKind, { backupId });
}
