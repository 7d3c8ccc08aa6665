// Export task planning: ranges partition every table, batches stay few and bounded.
import { describe, it, expect } from 'vitest';
import { packBatches, splitIntoRanges } from '#core/backup/ranges.ts';

describe('splitIntoRanges', () => {
  const policy = { rangeBytes: 8192 * 10, blockSize: 8192, serverVersionNum: 150000 };

  it('splits a table into contiguous block ranges, first and last open-ended', () => {
    const tasks = splitIntoRanges([{ table: 0, bytes: 8192 * 35 }], policy);
    expect(tasks.map((t) => [t.fromBlock, t.toBlock])).toEqual([
      [null, 10],
      [10, 20],
      [20, 30],
      [30, null],
    ]);
  });

  it('keeps small tables whole, and every table whole on PostgreSQL 13 (no TID range scan)', () => {
    expect(splitIntoRanges([{ table: 0, bytes: 8192 }], policy)).toEqual([
      { table: 0, range: 0, fromBlock: null, toBlock: null },
    ]);
    expect(splitIntoRanges([{ table: 0, bytes: 8192 * 35 }], { ...policy, serverVersionNum: 130010 })).toHaveLength(1);
  });
});

describe('packBatches', () => {
  it('puts every task in exactly one batch, never more than 1000 batches', () => {
    const tasks = splitIntoRanges(
      [
        { table: 0, bytes: 8192 * 6000 },
        { table: 1, bytes: 100 },
      ],
      { rangeBytes: 8192, blockSize: 8192, serverVersionNum: 150000 },
    );
    const sizes = new Map([
      [0, 8192 * 6000],
      [1, 100],
    ]);
    const batches = packBatches(tasks, sizes, { batchBytes: 8192, maxBatches: 1000, rangeBytes: 8192 });
    expect(tasks.length).toBe(6001);
    expect(batches.length).toBeLessThanOrEqual(1000);
    expect(batches.flat()).toHaveLength(tasks.length);
    expect(new Set(batches.flat()).size).toBe(tasks.length);
  });
});
