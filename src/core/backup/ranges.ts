// Splits tables into export tasks: ctid block ranges, which work for every table (with a key or
// without) and partition its rows exactly inside one snapshot. The last range is open-ended, so
// rows in pages added after planning (invisible to the snapshot anyway) cannot be missed.
// PostgreSQL 13 has no TID range scan (each range would scan the whole table), so there a table
// is one task.
import type { ExportTask } from './plan-model.ts';
import { packBySize } from '../batching.ts';

export interface TableSize {
  table: number;
  bytes: number;
}

export interface RangePolicy {
  /** Target heap bytes per range. */
  rangeBytes: number;
  blockSize: number;
  serverVersionNum: number;
}

export function splitIntoRanges(tables: TableSize[], policy: RangePolicy): ExportTask[] {
  const tasks: ExportTask[] = [];
  const blocksPerRange = Math.max(1, Math.floor(policy.rangeBytes / policy.blockSize));
  const tidRangeScan = policy.serverVersionNum >= 140000;
  for (const { table, bytes } of tables) {
    const blocks = Math.ceil(bytes / policy.blockSize);
    if (!tidRangeScan || blocks <= blocksPerRange) {
      tasks.push({ table, range: 0, fromBlock: null, toBlock: null });
      continue;
    }
    const count = Math.ceil(blocks / blocksPerRange);
    for (let range = 0; range < count; range++) {
      tasks.push({
        table,
        range,
        fromBlock: range === 0 ? null : range * blocksPerRange,
        toBlock: range === count - 1 ? null : (range + 1) * blocksPerRange,
      });
    }
  }
  return tasks;
}

/**
 * Groups tasks into batches (one Lambda invocation each): largest tables first so the long work
 * starts early.
 */
export function packBatches(
  tasks: ExportTask[],
  sizes: Map<number, number>,
  policy: { batchBytes: number; maxBatches: number; rangeBytes: number },
): ExportTask[][] {
  const ordered = [...tasks].sort(
    (a, b) => (sizes.get(b.table) ?? 0) - (sizes.get(a.table) ?? 0) || a.table - b.table || a.range - b.range,
  );
  return packBySize(ordered, (t) => Math.min(sizes.get(t.table) ?? 0, policy.rangeBytes), {
    targetBytes: policy.batchBytes,
    maxBatches: policy.maxBatches,
    maxItems: 64,
  });
}
