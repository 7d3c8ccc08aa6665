// The tombstone `backups/<id>/expired.json` (FORMAT.md, "Retention"): written once by `expire`
// before the catalog moves the backup to `expired`. From then on the backup is no restore point,
// and gc may delete its manifest and every chunk no other backup needs.
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from '../repository/layout.ts';
import { openDocument, sealDocument } from '../repository/sealed-document.ts';

export const TOMBSTONE_FORMAT = 'tidemark-expired';

export interface Tombstone {
  backupId: string;
  collection?: string;
  /** ISO-8601. */
  expiredAt: string;
}

/** Writes the tombstone unless one exists; returns the one stored (a retry keeps the first). */
export async function writeTombstone(storage: RepositoryStorage, tombstone: Tombstone): Promise<Tombstone> {
  const key = layout.backupExpired(tombstone.backupId);
  if (await storage.putIfAbsent(key, sealDocument(TOMBSTONE_FORMAT, tombstone))) return tombstone;
  return readTombstone(storage, tombstone.backupId);
}

/** Reads and verifies a tombstone; throws `IntegrityError` naming it when damaged. */
export async function readTombstone(storage: RepositoryStorage, backupId: string): Promise<Tombstone> {
  const key = layout.backupExpired(backupId);
  return openDocument(TOMBSTONE_FORMAT, await storage.get(key), `Tombstone ${key}`) as Tombstone;
}
