// The two COPY formats a chunk can hold, and how to find row boundaries in each.
// - text: one row per line; a raw newline only ever ends a row.
// - binary: PostgreSQL's binary tuple stream without its header and trailer: per row an int16
//   field count, then per field an int32 length (-1 = NULL) and the bytes. Chosen per table when
//   every column's binary form is portable (see plan.ts): it costs the server about half as much
//   to write and a third as much to read as text.
import { IntegrityError } from './errors.ts';

export type CopyFormat = 'text' | 'binary';

/** Signature, flags (0), header extension length (0). */
export const BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
export const BINARY_TRAILER = Buffer.from([0xff, 0xff]);

export function copyOptions(format: CopyFormat): string {
  return format === 'binary' ? ' (FORMAT binary)' : '';
}

/** Complete COPY FROM input for one chunk. */
export function copyInput(format: CopyFormat, chunk: Buffer): Buffer {
  return format === 'binary' ? Buffer.concat([BINARY_HEADER, chunk, BINARY_TRAILER]) : chunk;
}

/**
 * Calls `row(start, end)` for every complete row in `buf` and returns the end of the last one.
 * Binary: stops at the trailer or at an incomplete row.
 */
export function walkRows(buf: Buffer, format: CopyFormat, row?: (start: number, end: number) => void): number {
  let pos = 0;
  if (format === 'text') {
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) return pos;
      row?.(pos, nl);
      pos = nl + 1;
    }
  }
  for (;;) {
    if (pos + 2 > buf.length) return pos;
    const fields = buf.readInt16BE(pos);
    if (fields === -1) return pos;
    let p = pos + 2;
    let complete = true;
    for (let f = 0; f < fields; f++) {
      if (p + 4 > buf.length) {
        complete = false;
        break;
      }
      const len = buf.readInt32BE(p);
      p += 4 + (len > 0 ? len : 0);
      if (p > buf.length) {
        complete = false;
        break;
      }
    }
    if (!complete) return pos;
    row?.(pos, p);
    pos = p;
  }
}

function binaryHeaderLength(buf: Buffer): number {
  if (buf.length < 19 || !buf.subarray(0, 11).equals(BINARY_HEADER.subarray(0, 11))) {
    throw new IntegrityError('COPY binary stream does not start with the PGCOPY signature.');
  }
  return 19 + buf.readUInt32BE(15);
}

/**
 * Cuts a COPY TO STDOUT stream into chunks of whole rows of about `chunkBytes` (a row larger
 * than that makes one larger chunk). Binary chunks have no header or trailer. Memory: one chunk
 * plus one stream buffer.
 */
export async function* cutIntoChunks(stream: AsyncIterable<Buffer>, chunkBytes: number, format: CopyFormat = 'text'): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let needHeader = format === 'binary';
  let nextCut = chunkBytes;
  for await (const piece of stream) {
    parts.push(piece);
    size += piece.length;
    if (size < nextCut) continue;
    // Text: only the newest piece can hold the last row end (earlier ones were searched).
    if (format === 'text' && piece.lastIndexOf(10) < 0) continue;
    let buf = Buffer.concat(parts, size);
    if (needHeader) {
      buf = buf.subarray(binaryHeaderLength(buf));
      needHeader = false;
    }
    const end = format === 'text' ? buf.lastIndexOf(10) + 1 : walkRows(buf, format);
    if (end > 0) yield buf.subarray(0, end);
    parts = end < buf.length ? [buf.subarray(end)] : [];
    size = buf.length - end;
    // A row bigger than a chunk: look again only once the buffer has doubled.
    nextCut = end > 0 ? chunkBytes : Math.max(chunkBytes, size * 2);
  }
  let buf = Buffer.concat(parts, size);
  if (format === 'binary') {
    if (needHeader) buf = buf.subarray(binaryHeaderLength(buf));
    const end = walkRows(buf, format);
    if (buf.length !== end + 2 || buf.readInt16BE(end) !== -1) {
      throw new IntegrityError(`COPY binary stream ended without its trailer (${buf.length - end} stray bytes).`);
    }
    buf = buf.subarray(0, end);
  }
  if (buf.length > 0) yield buf;
}
