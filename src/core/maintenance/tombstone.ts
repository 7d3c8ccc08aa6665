// The tombstone `backups/<id>/expired.json` (FORMAT.md, "Retention"): written once by `expire`
// before the catalog moves the backup to `expired`. From then on the backup is no restore point,
// and gc may delete its manifest and every chunk no other backup needs.
import type { RepositoryStorage } from '../ports/storage.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { tombstoneKind, type Tombstone } from '../repository/document-formats.ts';

export type { Tombstone } from '../repository/document-formats.ts';
export const TOMBSTONE_FORMAT = tombstoneKind.format;

/** Writes the tombstone unless one exists; returns the one stored (a retry keeps the first). */
export async function writeTombstone(storage: RepositoryStorage, tombstone: Tombstone): Promise<Tombstone> {
  if (await writeDocument(storage, tombstoneKind, { backupId: tombstone.backupId }, tombstone)) return tombstone;
  return readTombstone(storage, tombstone.backupId);
}

/** Reads and verifies a tombstone; throws `IntegrityError` naming it when damaged or not this backup's. */
export async function readTombstone(storage: RepositoryStorage, backupId: string): Promise<Tombstone> {
  return readDocument(storage, tombstoneKind, { backupId });
}
