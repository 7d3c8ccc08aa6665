// Which backups a restore into a chain can start from (FORMAT.md, "Replay rule"): committed
// backups of the collection, of the chain's source, whose snapshot was taken after the chain's
// slot existed (both times are the server's), so every transaction the snapshot does not see is
// in the chain. Newest first.
import type { BackupCatalog } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { readManifest, type Manifest } from '../repository/manifest.ts';
import { ObjectNotFoundError } from '../errors.ts';
import { readSegment, type ChangeSegment } from './segment.ts';
import { chainLsn } from './chain.ts';

export async function* chainBackups(
  catalog: BackupCatalog,
  storage: RepositoryStorage,
  collection: string,
  opening: Pick<ChangeSegment, 'source' | 'sealedAt'>,
): AsyncIterable<Manifest> {
  const start = opening.sealedAt === undefined ? undefined : Date.parse(opening.sealedAt);
  const records = (await catalog.listBackups())
    .filter((b) => b.collection === collection && b.state === 'committed')
    .sort((a, b) => (b.snapshotTime ?? '').localeCompare(a.snapshotTime ?? ''));
  for (const record of records) {
    const manifest = await readManifest(storage, record.backupId);
    const inChain = start !== undefined && Date.parse(manifest.snapshot.time) > start;
    const sameSource =
      manifest.source.systemIdentifier === opening.source.systemIdentifier &&
      manifest.source.database === opening.source.database;
    if (manifest.snapshot.txidSnapshot && inChain && sameSource) yield manifest;
  }
}

/**
 * A chain the archiver started after a gap whose base backup never committed (the run that took
 * it died): the next archive run takes it, or nothing in the chain could be restored to. Reads
 * the chain's opening segment by its place (the chain is named by its start, where that segment
 * begins), not by listing: every archive run asks, however long the chain has grown.
 */
export async function chainLacksBaseBackup(
  catalog: BackupCatalog,
  storage: RepositoryStorage,
  collection: string,
  chain: string,
): Promise<boolean> {
  let opening: ChangeSegment;
  try {
    opening = await readSegment(storage, { collection, chain, afterLsn: chainLsn(chain), part: 0 });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
  if (!opening.gap) return false; // begun by pitr enable, whose user takes the backup (--no-backup says so)
  for await (const _ of chainBackups(catalog, storage, collection, opening)) return false;
  return true;
}
