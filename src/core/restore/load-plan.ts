// The load plan is derived from the manifest alone, deterministically, so "Resolve" can hand
// the Map only batch indices and every "LoadBatch" recomputes the same batches.
import type { Manifest } from '../repository/manifest.ts';
import type { ChunkRef } from '../backup/plan-model.ts';
import { packBySize } from '../batching.ts';

export interface LoadItem {
  table: number;
  /** Index of the chunk within its table: the progress step is `chunk:<table>:<chunk>`. */
  chunk: number;
  ref: ChunkRef;
}

const POLICY = { targetBytes: 64 * 1024 * 1024, maxBatches: 1000 };

export function loadBatches(manifest: Manifest): LoadItem[][] {
  const items: LoadItem[] = [];
  manifest.tables.forEach((t, table) => t.chunks.forEach((ref, chunk) => items.push({ table, chunk, ref })));
  // Biggest tables first: the longest loads start early.
  items.sort((a, b) => manifest.tables[b.table]!.bytes - manifest.tables[a.table]!.bytes || a.table - b.table || a.chunk - b.chunk);
  // The item cap spreads small backups with many chunks over the workers too.
  return packBySize(items, (i) => i.ref.size, { ...POLICY, maxItems: 256 });
}

/** Tables grouped for verification, by bytes, like the load. */
export function verifyBatches(manifest: Manifest): number[][] {
  const order = manifest.tables.map((_, i) => i).sort((a, b) => manifest.tables[b]!.bytes - manifest.tables[a]!.bytes || a - b);
  return packBySize(order, (t) => manifest.tables[t]!.bytes, { ...POLICY, maxItems: 200 });
}
