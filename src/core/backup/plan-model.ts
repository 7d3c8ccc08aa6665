// The plan of one backup run, stored in the repository (payloads carry only its batch indices).
import type { SchemaSnapshot } from '../schema/model.ts';
import type { ChunkId } from '../ids.ts';
import type { CopyFormat } from '../copy-format.ts';

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
}

export interface PlanHeader {
  backupId: string;
  createdAt: string;
  source: { description: string; serverVersion: string; serverVersionNum: number; systemIdentifier: string; database: string };
  snapshot: { time: string; lsn: string | null };
  schema: SchemaSnapshot;
  taskCount: number;
  batchCount: number;
  chunkBytes: number;
  /** COPY format of each table's chunks, parallel to schema.tables. */
  formats: CopyFormat[];
}

export interface ChunkRef {
  id: ChunkId;
  /** Uncompressed bytes. */
  size: number;
  /** Compressed bytes in the repository. */
  storedSize: number;
  rows: number;
}

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
}

export interface ExportBatchResult {
  batch: number;
  tasks: ExportTaskResult[];
}
