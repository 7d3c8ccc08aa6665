// The key index (FORMAT.md, "Key index"): delta-encoded, content-defined chunks of ascending
// integer keys, and the merge that finds the keys a table lost.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { decodeKeyChunk, KeyIndexWriter, missingKeys, parseKeyLines, type Key } from '#core/repository/key-index.ts';
import type { ChunkRef } from '#core/backup/plan-model.ts';
import type { ChunkId } from '#core/ids.ts';

/** Writes keys into an in-memory index; returns the chunks' contents and ids. */
async function build(keys: Key[]): Promise<{ chunks: Buffer[]; ids: string[]; count: number }> {
  const chunks: Buffer[] = [];
  const writer = new KeyIndexWriter('id', async (content, n): Promise<ChunkRef> => {
    chunks.push(content);
    return {
      id: createHash('sha256').update(content).digest('hex') as ChunkId,
      size: content.length,
      storedSize: content.length,
      rows: n,
    };
  });
  for (let i = 0; i < keys.length; i += 7919) await writer.add(keys.slice(i, i + 7919));
  const index = await writer.finish();
  return { chunks, ids: index.chunks.map((c) => c.id), count: index.count };
}

async function* batches(keys: Key[], size = 1000): AsyncIterable<Key[]> {
  for (let i = 0; i < keys.length; i += size) yield keys.slice(i, i + size);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('key index', () => {
  it('round-trips negative, large and >2^53 keys, each kept as a number or a bigint', async () => {
    const keys: Key[] = [
      -(2n ** 63n),
      -9007199254740993n,
      -5,
      0,
      1,
      2,
      9007199254740991,
      9007199254740993n,
      2n ** 63n - 1n,
    ];
    const { chunks, count } = await build(keys);
    expect(count).toBe(keys.length);
    expect(chunks.flatMap((c) => decodeKeyChunk(c, 'test'))).toEqual(keys);
  });

  it('cuts by content: an insert and a delete in the middle leave the other chunks identical', async () => {
    const keys = range(1, 600_000);
    const before = await build(keys);
    expect(before.ids.length).toBeGreaterThan(4);
    const after = await build(
      [...keys.slice(0, 300_000), 10_000_000_000, ...keys.slice(300_001)].sort((a, b) => a - b),
    );
    const changed = after.ids.filter((id) => !before.ids.includes(id));
    expect(changed.length).toBeLessThanOrEqual(2);
    // Sequential ids compress to a line of "1" per key: a few bytes each before compression.
    expect(before.chunks.reduce((s, c) => s + c.length, 0)).toBeLessThan(2.1 * keys.length);
  });

  it('refuses keys that are not ascending and unique', async () => {
    const writer = new KeyIndexWriter('id', async () => ({ id: 'x' as ChunkId, size: 0, storedSize: 0, rows: 0 }));
    await expect(writer.add([1, 2, 2])).rejects.toThrow(/key 2 follows 2/);
  });

  it('parses COPY text of an integer column and rejects anything else', () => {
    expect(parseKeyLines(Buffer.from('1\n-20\n12345678901234567890\n'), 't')).toEqual([1, -20, 12345678901234567890n]);
    expect(() => parseKeyLines(Buffer.from('1\nabc\n'), 't')).toThrow(/"abc" is not an integer key/);
    expect(() => parseKeyLines(Buffer.from('1\n2'), 't')).toThrow(/not terminated/);
  });

  it('missingKeys finds exactly the keys of before that after lacks, across batch boundaries', async () => {
    const before = range(0, 10_000);
    const gone = new Set([0, 999, 1000, 1001, 5000, 9999]);
    const after = [...before.filter((k) => !gone.has(k)), 10_000, 10_001];
    const found: Key[] = [];
    const n = await missingKeys(batches(before, 333), batches(after, 1000), async (keys) => void found.push(...keys));
    expect(n).toBe(gone.size);
    expect(found).toEqual([...gone].sort((a, b) => a - b));
    // An empty table lost every key; nothing lost when nothing changed.
    expect(await missingKeys(batches([1, 2, 3]), batches([]), async () => {})).toBe(3);
    expect(await missingKeys(batches(before), batches(before, 77), async () => {})).toBe(0);
  });
});
