// The load plan is derived from the manifest alone, deterministically, so "Resolve" can hand
// the Map only batch indices and every "LoadBatch" recomputes the same batches.
import type { Manifest } from '../repository/manifest.ts';
import type { ChunkRef } from '../backup/plan-model.ts';

export interface LoadItem {
  table: number;
  /** Index of the chunk within its table: the progress step is `chunk:<table>:<chunk>`. */
  chunk: number;
  ref: ChunkRef;
}

const BATCH_BYTES = 64 * 1024 * 1024;
const MAX_BATCHES = 1000;

export function loadBatches(manifest: Manifest): LoadItem[][] {
  const items: LoadItem[] = [];
  manifest.tables.forEach((t, table) => t.chunks.forEach((ref, chunk) => items.push({ table, chunk, ref })));
  // Biggest tables first: the longest loads start early.
  items.sort((a, b) => manifest.tables[b.table]!.bytes - manifest.tables[a.table]!.bytes || a.table - b.table || a.chunk - b.chunk);
  const total = items.reduce((s, i) => s + i.ref.size, 0);
  const target = Math.max(BATCH_BYTES, Math.ceil(total / MAX_BATCHES));
  const batches: LoadItem[][] = [];
  let current: LoadItem[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && bytes + item.ref.size > target) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.ref.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Tables grouped for verification, by bytes, like the load. */
export function verifyBatches(manifest: Manifest): number[][] {
  const order = manifest.tables.map((_, i) => i).sort((a, b) => manifest.tables[b]!.bytes - manifest.tables[a]!.bytes || a - b);
  const total = manifest.tables.reduce((s, t) => s + t.bytes, 0);
  const target = Math.max(BATCH_BYTES, Math.ceil(total / MAX_BATCHES));
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const t of order) {
    const size = manifest.tables[t]!.bytes;
    if (current.length > 0 && (bytes + size > target || current.length >= 200)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
