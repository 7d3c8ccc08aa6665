// The plan of one backup run, stored in the repository (payloads carry only its batch indices).
import type { SchemaSnapshot } from '../schema/model.ts';
import type { CopyFormat } from '../copy-format.ts';
import type { KeyIndex } from '../repository/manifest.ts';

export interface ExportTask {
  /** Index into PlanHeader.schema.tables. */
  table: number;
  /** Ordinal of this range within its table (ranges are exported and restored in this order). */
  range: number;
  /**
   * Heap block range [fromBlock, toBlock) read through ctid; `toBlock` null = to the end.
   * Both null: the whole table. Ranges of one table partition it exactly inside one snapshot.
   */
  fromBlock: number | null;
  toBlock: number | null;
  /**
   * `rows` (default): export the range. `keys`: write the table's key index. `changes`: the
   * table against the parent backup — nothing when unchanged, the changed rows (a layer) when it
   * has an integer key, the whole table otherwise (FORMAT.md, "Incremental backups").
   */
  kind?: 'rows' | 'keys' | 'changes';
}

/** What an incremental run needs of its parent. */
export interface ParentRef {
  backupId: string;
  /** The parent snapshot's xmin (64-bit txid, decimal). */
  xmin: string;
}

export interface PlanHeader {
  backupId: string;
  createdAt: string;
  source: {
    description: string;
    serverVersion: string;
    serverVersionNum: number;
    systemIdentifier: string;
    database: string;
    timeline?: string;
  };
  snapshot: { time: string; lsn: string | null; txidSnapshot?: string };
  schema: SchemaSnapshot;
  taskCount: number;
  batchCount: number;
  chunkBytes: number;
  /** COPY format of each table's chunks, parallel to schema.tables. */
  formats: CopyFormat[];
  /** Column types of each table (`format_type`, comma-separated), parallel to schema.tables. */
  rowTypes?: string[];
  /** The single integer primary-key column of each table, or null; parallel to schema.tables. */
  keys?: (string | null)[];
  /** Table fingerprints (TableFacts.identity), parallel to schema.tables. */
  identities?: string[];
  /** Set for a backup in a collection that has a committed parent to be incremental on. */
  parent?: ParentRef;
  collection?: string;
  /** This snapshot's xmin (64-bit txid, decimal). */
  snapshotXmin?: string;
}

export type { ChunkRef } from '../repository/chunk-ref.ts';
import type { ChunkRef } from '../repository/chunk-ref.ts';

export interface ExportTaskResult {
  table: number;
  range: number;
  rows: number;
  bytesRead: number;
  /** ContentChecksum digest of this range's rows. */
  checksum: string;
  chunks: ChunkRef[];
  /** Compressed bytes this task wrote that were not already in the repository. */
  bytesWritten: number;
  kind?: ExportTask['kind'];
  /** `changes` tasks: what was found. `full`: the whole table is in `chunks`. */
  outcome?: 'unchanged' | 'layer' | 'full';
  layer?: {
    removedRows: number;
    removedKeys: ChunkRef[];
    rowsAfter: number;
  };
  keyIndex?: KeyIndex;
}

export interface ExportBatchResult {
  batch: number;
  tasks: ExportTaskResult[];
}
