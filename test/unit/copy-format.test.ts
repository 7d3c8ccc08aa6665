// Row boundaries in both COPY formats, whatever the stream's piece boundaries.
import { describe, it, expect } from 'vitest';
import { BINARY_HEADER, BINARY_TRAILER, cutIntoChunks, walkRows } from '#core/copy-format.ts';
import { ContentChecksum } from '#core/content-checksum.ts';

function binaryRow(fields: (Buffer | null)[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, fields.length])];
  for (const f of fields) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(f ? f.length : -1);
    parts.push(len, ...(f ? [f] : []));
  }
  return Buffer.concat(parts);
}

/** Splits a buffer into pieces of pseudo-random sizes, as a socket would. */
async function* pieces(buf: Buffer, seed = 7): AsyncGenerator<Buffer> {
  let pos = 0;
  let x = seed;
  while (pos < buf.length) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (x % 5000);
    yield buf.subarray(pos, pos + n);
    pos += n;
  }
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of gen) out.push(c);
  return out;
}

describe('COPY text chunks', () => {
  const rows = Array.from(
    { length: 5000 },
    (_, i) => `${i}\tvalue with \\t tab and \\n newline ${'x'.repeat(i % 97)}\n`,
  );
  const stream = Buffer.from(rows.join(''));

  it('cuts only at row ends, loses nothing, and keeps chunks near the target size', async () => {
    const chunks = await collect(cutIntoChunks(pieces(stream), 16 * 1024, 'text'));
    expect(Buffer.concat(chunks).equals(stream)).toBe(true);
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) expect(c[c.length - 1]).toBe(10);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeLessThan(16 * 1024 + 10_000);
  });

  it('cuts in the same places however the stream is split (reruns rewrite the same chunks)', async () => {
    const a = await collect(cutIntoChunks(pieces(stream, 1), 16 * 1024, 'text'));
    const b = await collect(cutIntoChunks(pieces(stream, 99), 16 * 1024, 'text'));
    expect(b).toEqual(a);
  });

  it('a row larger than a chunk becomes one larger chunk', async () => {
    const big = Buffer.from(`1\t${'y'.repeat(200_000)}\n2\tsmall\n`);
    const chunks = await collect(cutIntoChunks(pieces(big), 1024, 'text'));
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
    expect(chunks[0]!.length).toBeGreaterThan(200_000);
  });
});

describe('COPY binary chunks', () => {
  const rows = Array.from({ length: 3000 }, (_, i) =>
    binaryRow([Buffer.from(String(i)), i % 3 === 0 ? null : Buffer.alloc(i % 300, i & 0xff)]),
  );
  const body = Buffer.concat(rows);
  const stream = Buffer.concat([BINARY_HEADER, body, BINARY_TRAILER]);

  it('strips header and trailer, cuts at tuple ends, loses nothing', async () => {
    const chunks = await collect(cutIntoChunks(pieces(stream), 8 * 1024, 'binary'));
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(chunks.length).toBeGreaterThan(10);
    let count = 0;
    for (const c of chunks) expect(walkRows(c, 'binary', () => count++)).toBe(c.length);
    expect(count).toBe(rows.length);
  });

  it('cuts in the same places however the stream is split', async () => {
    const a = await collect(cutIntoChunks(pieces(stream, 3), 8 * 1024, 'binary'));
    const b = await collect(cutIntoChunks(pieces(stream, 12345), 8 * 1024, 'binary'));
    expect(b).toEqual(a);
    for (const c of a.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(8 * 1024);
  });

  it('an empty table is header + trailer and gives no chunk', async () => {
    expect(
      await collect(cutIntoChunks(pieces(Buffer.concat([BINARY_HEADER, BINARY_TRAILER])), 1024, 'binary')),
    ).toEqual([]);
  });

  it('a stream cut before its trailer is an error, not a short backup', async () => {
    await expect(
      collect(cutIntoChunks(pieces(stream.subarray(0, stream.length - 7)), 8 * 1024, 'binary')),
    ).rejects.toThrow(/trailer/);
  });

  it('the checksum of binary rows does not depend on chunking or order', async () => {
    const a = new ContentChecksum();
    for (const c of await collect(cutIntoChunks(pieces(stream, 1), 4096, 'binary'))) a.addRows(c, 'binary');
    const b = new ContentChecksum();
    b.addRows(Buffer.concat([...rows].reverse()), 'binary');
    expect(a.rows).toBe(rows.length);
    expect(b.digest).toBe(a.digest);
  });
});
