// The manifest: the restore contract of one backup (FORMAT.md, "Manifest"). Written once, after
// every chunk it lists, and before the catalog commit.
import type { SchemaSnapshot } from '../schema/model.ts';
import type { BackupStats } from '../ports/catalog.ts';
import type { ChunkRef } from './chunk-ref.ts';
import type { CopyFormat } from '../copy-format.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout } from './layout.ts';
import { encodeUnauthenticated, readDocument, readDocumentEntry } from './documents.ts';
import { manifestKind } from './document-formats.ts';
import { ObjectNotFoundError, BackupNotFoundError } from '../errors.ts';

export const MANIFEST_FORMAT = manifestKind.format;

export interface ManifestTable {
  schema: string;
  name: string;
  columns: string[];
  /** COPY format of the chunks (FORMAT.md, "Chunks"). */
  format: CopyFormat;
  /** Column types (`format_type`, comma-separated): layers apply only on the same row type. */
  rowType?: string;
  /** Fingerprint of the table's oid, attributes and column types' labels (table-facts.ts). */
  identity?: string;
  rows: number;
  /** ContentChecksum digest over all rows (order-independent). */
  checksum: string;
  /** Uncompressed COPY text bytes. */
  bytes: number;
  /** In export order: ranges in order, chunks in order within a range. */
  chunks: ChunkRef[];
  /**
   * Incremental backups (FORMAT.md, "Incremental backups"): changes applied in order on top of
   * `chunks`. With layers, `rows`/`checksum`/`bytes` describe `chunks` only; the restored table
   * holds `rowsAfter` of the last layer.
   */
  layers?: ManifestLayer[];
  /** The sorted primary-key values of the table at the snapshot, for the next incremental. */
  keyIndex?: KeyIndex;
}

/** The changes of one table between a backup's parent and the backup itself. */
export interface ManifestLayer {
  /** The backup that read these changes from the source. */
  backupId: string;
  /** Rows of the table as it was before this layer that the layer removes (deleted or replaced). */
  removedRows: number;
  /** Key values of the rows to remove before loading `chunks`: text, one per line. */
  removedKeys: ChunkRef[];
  /** Rows inserted or updated since the parent, in the table's COPY format. */
  chunks: ChunkRef[];
  rows: number;
  /** ContentChecksum digest of `chunks`' rows. */
  checksum: string;
  bytes: number;
  /** Rows of the table once this layer is applied. */
  rowsAfter: number;
}

/** Primary-key values, ascending, delta-encoded text lines, cut where the key's hash says so. */
export interface KeyIndex {
  /** The single integer primary-key column. */
  column: string;
  count: number;
  chunks: ChunkRef[];
}

/** Rows the restored table holds. */
export function tableRowsAfter(table: ManifestTable): number {
  return table.layers?.length ? table.layers[table.layers.length - 1]!.rowsAfter : table.rows;
}

/** Every chunk one table needs: its rows, its layers with their removed keys, its key index. */
export function tableChunkRefs(table: ManifestTable): ChunkRef[] {
  return [
    table.chunks,
    table.keyIndex?.chunks ?? [],
    ...(table.layers ?? []).flatMap((l) => [l.chunks, l.removedKeys]),
  ].flat();
}

/** Every chunk a backup needs, each id once. */
export function manifestChunkRefs(manifest: Manifest): ChunkRef[] {
  const refs = new Map<string, ChunkRef>();
  for (const table of manifest.tables) for (const c of tableChunkRefs(table)) refs.set(c.id, c);
  return [...refs.values()];
}

export interface Manifest {
  backupId: string;
  /** The backup this one is incremental on; null for a full backup. */
  parent: string | null;
  /** The collection it belongs to (absent for backups outside collections). */
  collection?: string;
  startedAt: string;
  committedAt: string;
  source: {
    description: string;
    serverVersion: string;
    serverVersionNum: number;
    systemIdentifier: string;
    database: string;
    timeline?: string;
  };
  /**
   * `xmin`: the oldest transaction (64-bit txid, decimal) still running at the snapshot; rows
   * written by it or later are changes for the next incremental backup.
   * `txidSnapshot`: the whole snapshot, `xmin:xmax:xip,…` as `txid_current_snapshot()` prints it;
   * point-in-time replay applies exactly the archived transactions it does not see.
   */
  snapshot: { time: string; lsn: string | null; xmin?: string; txidSnapshot?: string };
  codec: string;
  schema: SchemaSnapshot;
  tables: ManifestTable[];
  stats: BackupStats;
  warnings: string[];
}

/** The stored bytes of a manifest without authentication (tests; writers use writeDocument). */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return encodeUnauthenticated(manifestKind, { backupId: manifest.backupId }, manifest);
}

/**
 * The manifest, and whether its writer also writes commit markers (it bound the header to its
 * key): for such a manifest, no marker means the run never committed.
 */
export async function readManifestEntry(
  storage: RepositoryStorage,
  backupId: string,
): Promise<{ manifest: Manifest; marksCommits: boolean }> {
  const { document, keyed } = await readDocumentEntry(storage, manifestKind, { backupId });
  return { manifest: document, marksCommits: keyed };
}

export async function readManifest(storage: RepositoryStorage, backupId: string): Promise<Manifest> {
  const key = layout.manifest(backupId);
  try {
    return await readDocument(storage, manifestKind, { backupId });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new BackupNotFoundError(
        `Backup ${backupId} has no manifest in the repository at ${storage.location} (${key}). It was never committed, or the repository is damaged; run \`tidemark list\` to see the committed backups.`,
      );
    }
    throw err;
  }
}
