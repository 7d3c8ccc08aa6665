// Splits tables into export tasks: ctid block ranges, which work for every table (with a key or
// without) and partition its rows exactly inside one snapshot. The last range is open-ended, so
// rows in pages added after planning (invisible to the snapshot anyway) cannot be missed.
// PostgreSQL 13 has no TID range scan (each range would scan the whole table), so there a table
// is one task.
import type { ExportTask } from './plan-model.ts';

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
 * starts early, at most `maxBatches` batches so the Map's item list stays small.
 */
export function packBatches(tasks: ExportTask[], sizes: Map<number, number>, policy: { batchBytes: number; maxBatches: number; rangeBytes: number }): ExportTask[][] {
  const taskBytes = (t: ExportTask) => Math.min(sizes.get(t.table) ?? 0, policy.rangeBytes);
  const total = tasks.reduce((s, t) => s + taskBytes(t), 0);
  const target = Math.max(policy.batchBytes, Math.ceil(total / policy.maxBatches));
  const maxTasks = Math.max(1, Math.ceil(tasks.length / policy.maxBatches));
  const ordered = [...tasks].sort((a, b) => (sizes.get(b.table) ?? 0) - (sizes.get(a.table) ?? 0) || a.table - b.table || a.range - b.range);
  const batches: ExportTask[][] = [];
  let current: ExportTask[] = [];
  let currentBytes = 0;
  for (const task of ordered) {
    const bytes = taskBytes(task);
    if (current.length > 0 && (currentBytes + bytes > target || current.length >= Math.max(maxTasks, 64))) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(task);
    currentBytes += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
