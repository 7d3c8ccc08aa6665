// Every repository key is built here and only here (FORMAT.md, "Layout").
import type { ChunkId } from '../ids.ts';

export const REPOSITORY_MARKER_KEY = 'tidemark.json';

export const layout = {
  marker: () => REPOSITORY_MARKER_KEY,
  /** Two-level fan-out keeps directories and S3 prefixes small. */
  chunk: (id: ChunkId) => `chunks/${id.slice(0, 2)}/${id}`,
  chunksPrefix: () => 'chunks/',
  /**
   * Where a damaged chunk's bytes are moved (chunk-store.ts), so that its key is free for the
   * next backup to write it again; one key per quarantine, kept for inspection.
   */
  quarantinedChunk: (id: ChunkId, stamp: string) => `quarantine/chunks/${id}/${stamp}`,
  quarantinePrefix: () => 'quarantine/',
  manifest: (backupId: string) => `backups/${backupId}/manifest.json`,
  backupsPrefix: () => 'backups/',
  /**
   * Written once after the catalog commit: the repository's own record that the backup
   * committed. A manifest without it is a run that never committed (an orphan for gc), unless its
   * header names no key (written before commit markers existed).
   */
  backupCommitted: (backupId: string) => `backups/${backupId}/committed.json`,
  /** Written once by `expire`; a backup with this marker is no restore point (gc removes it). */
  backupExpired: (backupId: string) => `backups/${backupId}/expired.json`,
  /** A collection's definition, written once at `collection create` (for `catalog rebuild`). */
  collection: (name: string) => `collections/${name}.json`,
  collectionsPrefix: () => 'collections/',
  /** The plan of one backup run: header, then task batches addressed by index. */
  planHeader: (runId: string) => `runs/${runId}/plan.json`,
  planBatch: (runId: string, batch: number) => `runs/${runId}/tasks/${String(batch).padStart(6, '0')}.json`,
  exportResult: (runId: string, batch: number) => `runs/${runId}/results/${String(batch).padStart(6, '0')}.json`,
  exportResultsPrefix: (runId: string) => `runs/${runId}/results/`,
  /** Snapshot hand-off between the snapshot holder and the exporters. */
  snapshot: (runId: string) => `runs/${runId}/snapshot.json`,
  snapshotReleased: (runId: string) => `runs/${runId}/snapshot-released.json`,
  /**
   * A change segment (FORMAT.md, "Point-in-time recovery"): the LSN as 16 hex digits and the
   * part as 4 digits, so that key order within a chain is commit order.
   */
  segment: (collection: string, chain: string, afterLsn: string, part: number) =>
    `segments/${collection}/${chain}/${lsnKey(afterLsn)}-${String(part).padStart(4, '0')}.json`,
  segmentsPrefix: (collection: string) => `segments/${collection}/`,
  /** `repository seal`: a document's sealed copy while its original is replaced (seal.ts). */
  sealing: (key: string) => `sealing/${key}`,
  sealingPrefix: () => 'sealing/',
} as const;

/** `X/Y` as 16 upper-case hex digits: sorts as the LSN does. */
export function lsnKey(lsn: string): string {
  const [hi, lo] = lsn.split('/');
  return `${hi!.toUpperCase().padStart(8, '0')}${lo!.toUpperCase().padStart(8, '0')}`;
}
