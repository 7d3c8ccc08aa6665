// The load plan is derived from the manifest alone, deterministically, so "Resolve" can hand
// the Map only batch indices and every "LoadBatch" recomputes the same batches.
//
// Two kinds of load item:
// - a whole table, loaded by one session in one transaction that truncates it first, so that
//   COPY can use FREEZE: rows arrive frozen and their pages all-visible. That spares the server
//   setting hint bits when the index builds and the verification first read them (about 11 %
//   of the server's load + index + verify time, measured), spares the restored database its
//   first anti-wraparound vacuum, and under wal_level=minimal skips WAL for the load.
// - single chunks, for tables too big for that: more than half the data (they would be the
//   whole tail of the load, on one worker) or more than WHOLE_TABLE_MAX_BYTES (one task must
//   finish within a Lambda's 15 minutes). Their chunks load in parallel, each in its own
//   transaction.
import type { Manifest } from '../repository/manifest.ts';
import type { ChunkRef } from '../backup/plan-model.ts';
import { packBySize } from '../batching.ts';
import type { ProgressEvent } from '../task-context.ts';
import { qualifiedName } from '../sql.ts';

export interface ChunkLoad {
  kind: 'chunk';
  table: number;
  /** Index of the chunk within its table: the progress step is `chunk:<table>:<chunk>`. */
  chunk: number;
  ref: ChunkRef;
}

/** Every chunk of one table, in one transaction: the progress step is `table:<table>`. */
export interface TableLoad {
  kind: 'table';
  table: number;
  bytes: number;
}

export type LoadItem = ChunkLoad | TableLoad;

export const WHOLE_TABLE_MAX_BYTES = 1024 * 1024 * 1024;

const POLICY = { targetBytes: 64 * 1024 * 1024, maxBatches: 1000 };

/** The progress display's view of a restore: every chunk and every layer is a unit of its table. */
export function expectedLoad(manifest: Manifest): NonNullable<ProgressEvent['expected']> {
  const unitsPerTable: Record<string, number> = {};
  let bytes = 0;
  for (const table of manifest.tables) {
    unitsPerTable[qualifiedName(table.schema, table.name)] = table.chunks.length + (table.layers?.length ?? 0);
    bytes += table.bytes + (table.layers ?? []).reduce((sum, l) => sum + l.bytes, 0);
  }
  return { bytes, unitsPerTable };
}

export function loadBatches(manifest: Manifest): LoadItem[][] {
  const total = manifest.tables.reduce((sum, t) => sum + t.bytes, 0);
  const items: LoadItem[] = [];
  manifest.tables.forEach((t, table) => {
    if (t.chunks.length === 0) return;
    if (t.bytes <= WHOLE_TABLE_MAX_BYTES && t.bytes * 2 <= total) items.push({ kind: 'table', table, bytes: t.bytes });
    else t.chunks.forEach((ref, chunk) => items.push({ kind: 'chunk', table, chunk, ref }));
  });
  // Biggest tables first: the longest loads start early.
  const order = (i: LoadItem) => (i.kind === 'chunk' ? i.chunk : -1);
  items.sort(
    (a, b) =>
      manifest.tables[b.table]!.bytes - manifest.tables[a.table]!.bytes || a.table - b.table || order(a) - order(b),
  );
  // The item cap spreads small backups with many chunks over the workers too.
  return packBySize(items, (i) => (i.kind === 'chunk' ? i.ref.size : i.bytes), { ...POLICY, maxItems: 256 });
}

/**
 * Tables grouped for verification, by bytes, like the load. Always at least one batch: batch 0
 * also checks the catalog state (verify-catalog.ts), which a database without tables has too.
 */
export function verifyBatches(manifest: Manifest): number[][] {
  const order = manifest.tables
    .map((_, i) => i)
    .sort((a, b) => manifest.tables[b]!.bytes - manifest.tables[a]!.bytes || a - b);
  const batches = packBySize(order, (t) => manifest.tables[t]!.bytes, { ...POLICY, maxItems: 200 });
  return batches.length > 0 ? batches : [[]];
}
