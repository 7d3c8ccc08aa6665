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

/** COPY's option list; FREEZE (loads only) needs the table created or truncated in the transaction. */
export function copyOptions(format: CopyFormat, freeze = false): string {
  const options = [...(format === 'binary' ? ['FORMAT binary'] : []), ...(freeze ? ['FREEZE'] : [])];
  return options.length ? ` (${options.join(', ')})` : '';
}

/** Complete COPY FROM input for one chunk, in parts (sent one after the other, never joined). */
export function copyInput(format: CopyFormat, chunk: Buffer): Uint8Array[] {
  return format === 'binary' ? [BINARY_HEADER, chunk, BINARY_TRAILER] : [chunk];
}

/**
 * Calls `row(start, end)` for every complete row in `buf` and returns the end of the last one.
 * Binary: stops at the trailer or at an incomplete row.
 */
export function walkRows(buf: Buffer, format: CopyFormat, row?: (start: number, end: number) => void): number {
  let pos = 0;
  for (;;) {
    const end = format === 'text' ? textRowEnd(buf, pos) : binaryRowEnd(buf, pos);
    if (end < 0) return pos;
    // Text rows are reported without their newline.
    row?.(pos, format === 'text' ? end - 1 : end);
    pos = end;
  }
}

function textRowEnd(buf: Buffer, pos: number): number {
  const nl = buf.indexOf(10, pos);
  return nl < 0 ? -1 : nl + 1;
}

/** End of the binary row that starts at `pos`; -1 when it is incomplete or `pos` is the trailer. */
function binaryRowEnd(buf: Buffer, pos: number): number {
  // Plain byte arithmetic: readInt32BE's argument checks cost more than the walk itself.
  const length = buf.length;
  if (pos + 2 > length) return -1;
  const fields = (buf[pos]! << 8) | buf[pos + 1]!;
  if (fields === 0xffff) return -1;
  let p = pos + 2;
  for (let f = 0; f < fields; f++) {
    if (p + 4 > length) return -1;
    const len = (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    p += len > 0 ? 4 + len : 4;
  }
  return p <= length ? p : -1;
}

function binaryHeaderLength(buf: Buffer): number {
  if (buf.length < 19 || !buf.subarray(0, 11).equals(BINARY_HEADER.subarray(0, 11))) {
    throw new IntegrityError('COPY binary stream does not start with the PGCOPY signature.');
  }
  return 19 + buf.readUInt32BE(15);
}

/**
 * The end of the first row that ends at or after `target`, scanning rows from `start` (a row
 * boundary); -1 when that row is not complete in `buf` yet.
 */
function rowEndAtOrAfter(buf: Buffer, start: number, target: number, format: CopyFormat): number {
  if (format === 'text') {
    const nl = buf.indexOf(10, Math.max(start, target - 1));
    return nl < 0 ? -1 : nl + 1;
  }
  let pos = start;
  while (pos < target) {
    pos = binaryRowEnd(buf, pos);
    if (pos < 0) return -1;
  }
  return pos;
}

/**
 * Cuts a COPY TO STDOUT stream into chunks of whole rows. Each chunk ends at the first row end at
 * or after `chunkBytes` from its start, so the cuts depend only on the rows, never on how the
 * socket split the stream: a rerun writes the same chunks (same ids) again. A row larger than
 * that makes one larger chunk. Binary chunks have no header or trailer. Memory: one chunk plus
 * one stream buffer.
 */
export async function* cutIntoChunks(
  stream: AsyncIterable<Buffer>,
  chunkBytes: number,
  format: CopyFormat = 'text',
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  let needHeader = format === 'binary';
  let nextTry = chunkBytes;
  for await (const piece of stream) {
    parts.push(piece);
    size += piece.length;
    if (size < nextTry + (needHeader ? 19 : 0)) continue;
    let buf = Buffer.concat(parts, size);
    if (needHeader) {
      buf = buf.subarray(binaryHeaderLength(buf));
      needHeader = false;
    }
    let start = 0;
    while (buf.length - start >= chunkBytes) {
      const end = rowEndAtOrAfter(buf, start, start + chunkBytes, format);
      if (end < 0) break;
      yield buf.subarray(start, end);
      start = end;
    }
    parts = start < buf.length ? [buf.subarray(start)] : [];
    size = buf.length - start;
    // A row bigger than a chunk: try again only once the buffer has doubled.
    nextTry = size >= chunkBytes ? size * 2 : chunkBytes;
  }
  let buf = Buffer.concat(parts, size);
  if (needHeader) buf = buf.subarray(binaryHeaderLength(buf));
  let start = 0;
  for (;;) {
    const end = buf.length - start > chunkBytes ? rowEndAtOrAfter(buf, start, start + chunkBytes, format) : -1;
    if (end < 0 || end >= buf.length) break;
    yield buf.subarray(start, end);
    start = end;
  }
  let rest = buf.subarray(start);
  if (format === 'binary') {
    const end = walkRows(rest, format);
    if (rest.length !== end + 2 || rest.readInt16BE(end) !== -1) {
      throw new IntegrityError(`COPY binary stream ended without its trailer (${rest.length - end} stray bytes).`);
    }
    rest = rest.subarray(0, end);
  }
  if (rest.length > 0) yield rest;
}
