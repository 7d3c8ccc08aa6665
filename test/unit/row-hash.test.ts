// The WebAssembly row hashes (row-hash.wat) against the TypeScript reference in ContentChecksum,
// and the committed module bytes against their source.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ContentChecksum } from '#core/content-checksum.ts';
import { hashRowSums, rowHashMemoryBytes } from '#core/row-hash.ts';
import { compileRowHash, generatedSource } from '../../scripts/build-row-hash.mjs';

/** A deterministic generator, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Two long rows first (so the module's memory grows, and later smaller calls run in memory that
 * held other bytes), then every length from 0 to 70 bytes, then random lengths; random bytes.
 */
function rowLengths(next: () => number): number[] {
  const lengths = [250_003, 65_537, ...Array.from({ length: 71 }, (_, i) => i)];
  for (let i = 0; i < 2000; i++) lengths.push(Math.floor(next() * 300));
  return lengths;
}

function bytes(next: () => number, length: number, avoid?: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    let b = Math.floor(next() * 256);
    if (b === avoid) b = 0x20;
    out[i] = b;
  }
  return out;
}

function endsOf(rows: Buffer[]): Uint32Array {
  const ends = new Uint32Array(rows.length);
  let at = 0;
  rows.forEach((row, i) => (ends[i] = at += row.length));
  return ends;
}

describe('row hashes in WebAssembly', () => {
  it('text rows: the same checksum as the TypeScript reference', () => {
    const next = random(7);
    const rows = rowLengths(next).map((n) => Buffer.concat([bytes(next, n, 0x0a), Buffer.from('\n')]));
    const data = Buffer.concat(rows);
    const reference = new ContentChecksum();
    reference.addRows(data, 'text');
    // The module, not the TypeScript fallback, did the hashing.
    expect(hashRowSums(data, endsOf(rows), 1)).toBeDefined();
    const fast = new ContentChecksum();
    fast.addCopied({ data, rowEnds: endsOf(rows) }, 'text');
    expect(fast.rows).toBe(rows.length);
    expect(reference.rows).toBe(rows.length);
    expect(fast.digest).toBe(reference.digest);
  });

  it('binary rows: the same checksum as the reference, in one call or many', () => {
    const next = random(11);
    const rows = rowLengths(next).map((n) => {
      // One bytea field: field count 1, length n, n bytes.
      const head = Buffer.alloc(6);
      head.writeInt16BE(1, 0);
      head.writeInt32BE(n, 2);
      return Buffer.concat([head, bytes(next, n)]);
    });
    const reference = new ContentChecksum();
    reference.addRows(Buffer.concat(rows), 'binary');
    expect(hashRowSums(Buffer.concat(rows), endsOf(rows), 0)).toBeDefined();
    const whole = new ContentChecksum();
    whole.addCopied({ data: Buffer.concat(rows), rowEnds: endsOf(rows) }, 'binary');
    // The module's memory grew for the long rows; later, smaller calls must not see stale bytes.
    const parts = new ContentChecksum();
    for (let i = 0; i < rows.length; i += 97) {
      const some = rows.slice(i, i + 97);
      parts.addCopied({ data: Buffer.concat(some), rowEnds: endsOf(some) }, 'binary');
    }
    expect(whole.digest).toBe(reference.digest);
    expect(parts.digest).toBe(reference.digest);
    expect(parts.rows).toBe(rows.length);
  });

  it('a changed byte in one row changes the checksum', () => {
    const data = Buffer.from('alpha\t1\nbeta\t2\ngamma\t3\n');
    const ends = Uint32Array.from([8, 15, 23]);
    const before = new ContentChecksum();
    before.addCopied({ data, rowEnds: ends }, 'text');
    data[9] ^= 1;
    const after = new ContentChecksum();
    after.addCopied({ data, rowEnds: ends }, 'text');
    expect(after.digest).not.toBe(before.digest);
  });

  it('a chunk over 64 MB is hashed in TypeScript, with the same result, and the module does not grow for it', () => {
    const rows = [Buffer.alloc(40 * 1024 * 1024, 0x61), Buffer.alloc(30 * 1024 * 1024, 0x62)].map((r) =>
      Buffer.concat([r, Buffer.from('\n')]),
    );
    const data = Buffer.concat(rows);
    expect(hashRowSums(data, endsOf(rows), 1)).toBeUndefined();
    const reference = new ContentChecksum();
    reference.addRows(data, 'text');
    const fast = new ContentChecksum();
    fast.addCopied({ data, rowEnds: endsOf(rows) }, 'text');
    expect(fast.digest).toBe(reference.digest);
    expect(fast.rows).toBe(2);
    expect(rowHashMemoryBytes()).toBeLessThan(8 * 1024 * 1024);
  });

  it('the committed module is row-hash.wat compiled (run scripts/build-row-hash.mjs after editing it)', async () => {
    const committed = readFileSync(new URL('../../src/core/row-hash-wasm.ts', import.meta.url), 'utf8');
    expect(committed).toBe(generatedSource(await compileRowHash()));
  });
});
