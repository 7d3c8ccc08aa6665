// Which tables a restore loads whole (one transaction, COPY FREEZE) and which chunk by chunk.
import { describe, it, expect } from 'vitest';
import { loadBatches, WHOLE_TABLE_MAX_BYTES, type LoadItem } from '#core/restore/load-plan.ts';
import type { Manifest } from '#core/repository/manifest.ts';

const MB = 1024 * 1024;

function manifestOf(sizes: number[], chunkBytes = 4 * MB): Manifest {
  const tables = sizes.map((bytes, i) => ({
    schema: 'public',
    name: `t${i}`,
    bytes,
    chunks: Array.from({ length: Math.ceil(bytes / chunkBytes) }, (_, c) => ({
      id: `${i}-${c}`,
      size: Math.min(chunkBytes, bytes - c * chunkBytes),
      storedSize: 1,
      rows: 1,
    })),
  }));
  return { tables } as unknown as Manifest;
}

const kinds = (batches: LoadItem[][]) => {
  const out: Record<string, string> = {};
  for (const item of batches.flat()) out[`t${item.table}`] = item.kind;
  return out;
};

describe('load plan', () => {
  it('loads tables of at most half the data whole, bigger ones chunk by chunk', () => {
    expect(kinds(loadBatches(manifestOf([300 * MB, 200 * MB, 100 * MB])))).toEqual({
      t0: 'table',
      t1: 'table',
      t2: 'table',
    });
    expect(kinds(loadBatches(manifestOf([700 * MB, 200 * MB, 100 * MB])))).toEqual({
      t0: 'chunk',
      t1: 'table',
      t2: 'table',
    });
    // One table is all the data: its chunks spread over the workers.
    const single = loadBatches(manifestOf([100 * MB]));
    expect(single.flat().every((i) => i.kind === 'chunk')).toBe(true);
    expect(single.length).toBeGreaterThan(1);
  });

  it('never loads more than WHOLE_TABLE_MAX_BYTES in one transaction', () => {
    const big = WHOLE_TABLE_MAX_BYTES + MB;
    expect(kinds(loadBatches(manifestOf([big, big, big], 64 * MB)))).toEqual({ t0: 'chunk', t1: 'chunk', t2: 'chunk' });
  });

  it('covers every chunk exactly once, biggest tables first, and skips empty tables', () => {
    const manifest = manifestOf([0, 50 * MB, 700 * MB, 30 * MB]);
    const batches = loadBatches(manifest);
    const covered = batches
      .flat()
      .flatMap((i) =>
        i.kind === 'chunk'
          ? [`${i.table}:${i.chunk}`]
          : manifest.tables[i.table]!.chunks.map((_, c) => `${i.table}:${c}`),
      );
    const all = manifest.tables.flatMap((t, i) => t.chunks.map((_, c) => `${i}:${c}`));
    expect(covered.sort()).toEqual(all.sort());
    expect(batches[0]![0]!.table).toBe(2);
    expect(batches.flat().some((i) => i.table === 0)).toBe(false);
  });
});
