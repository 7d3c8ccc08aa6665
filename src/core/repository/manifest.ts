// The manifest: the restore contract of one backup (FORMAT.md, "Manifest"). Written once, after
// every chunk it lists, and before the catalog commit.
import type { SchemaSnapshot } from '../schema/model.ts';
import type { BackupStats } from '../ports/catalog.ts';
import type { ChunkRef } from '../backup/plan-model.ts';
import type { CopyFormat } from '../copy-format.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from './layout.ts';
import { openDocument, sealDocument } from './sealed-document.ts';
import { ObjectNotFoundError, BackupNotFoundError } from '../errors.ts';

export const MANIFEST_FORMAT = 'tidemark-manifest';

export interface ManifestTable {
  schema: string;
  name: string;
  columns: string[];
  /** COPY format of the chunks (FORMAT.md, "Chunks"). */
  format: CopyFormat;
  rows: number;
  /** ContentChecksum digest over all rows (order-independent). */
  checksum: string;
  /** Uncompressed COPY text bytes. */
  bytes: number;
  /** In export order: ranges in order, chunks in order within a range. */
  chunks: ChunkRef[];
}

export interface Manifest {
  backupId: string;
  /** Full backups have no parent (incremental backups arrive with collections). */
  parent: string | null;
  startedAt: string;
  committedAt: string;
  source: { description: string; serverVersion: string; serverVersionNum: number; systemIdentifier: string; database: string };
  snapshot: { time: string; lsn: string | null };
  codec: string;
  schema: SchemaSnapshot;
  tables: ManifestTable[];
  stats: BackupStats;
  warnings: string[];
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return sealDocument(MANIFEST_FORMAT, manifest);
}

export async function readManifest(storage: RepositoryStorage, backupId: string): Promise<Manifest> {
  const key = layout.manifest(backupId);
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(key);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new BackupNotFoundError(`Backup ${backupId} has no manifest in the repository at ${storage.location} (${key}). It was never committed, or the repository is damaged; run \`tidemark list\` to see the committed backups.`);
    }
    throw err;
  }
  return openDocument(MANIFEST_FORMAT, bytes, `Manifest ${key}`) as Manifest;
}
