// Cuts a COPY text stream into chunks at row boundaries. In COPY text format a raw newline only
// ever ends a row (newlines inside values are escaped), so a row never spans two chunks.
// Memory: at most one chunk plus one stream buffer is held; a row larger than a chunk makes
// one larger chunk.

export async function* cutIntoChunks(stream: AsyncIterable<Buffer>, chunkBytes: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  for await (const piece of stream) {
    parts.push(piece);
    size += piece.length;
    if (size < chunkBytes) continue;
    // Only the newest piece needs searching: earlier ones were searched when they arrived.
    const lastNewline = piece.lastIndexOf(10);
    if (lastNewline < 0) continue;
    const cut = size - piece.length + lastNewline + 1;
    const joined = Buffer.concat(parts, size);
    yield joined.subarray(0, cut);
    parts = cut < size ? [joined.subarray(cut)] : [];
    size -= cut;
  }
  if (size > 0) yield Buffer.concat(parts, size);
}
