// COPY TO STDOUT as chunks of whole rows. pg-copy-streams' CopyStreamQuery owns the hard part
// (taking the connection's data from pg and handing it back after CopyDone or an error); this
// subclass replaces only its message parser, which sliced every CopyData payload into its own
// Buffer: at ~10 million rows per GB that allocation and its garbage, plus re-joining and
// re-scanning the rows to cut chunks, cost about a third of the export's main thread.
// Pinned to pg-copy-streams 7.0.0's internals (`_parse`, `_buffer`, `_detach`, `_cleanup`),
// which test/unit/copy-out.test.ts and every backup test exercise.
import { to as copyTo } from 'pg-copy-streams';

const COPY_DATA = 0x64;
const ERROR_RESPONSE = 0x45;
/** Messages that may arrive during copy-out without ending it. */
const DURING_COPY = new Set([0x48 /* CopyOutResponse */, COPY_DATA, 0x53 /* ParameterStatus */, 0x4e /* Notice */, 0x41 /* Notification */]);

type CopyToStream = ReturnType<typeof copyTo>;
type Internals = {
  _parse(chunk: Buffer): boolean | undefined;
  _buffer: { size: number; take(n: number): Buffer } | null;
  _detach(): void;
  _cleanup(): void;
  push(chunk: Buffer | null): boolean;
};

const CopyStreamQuery = Object.getPrototypeOf(copyTo('')).constructor as new (text: string, options?: object) => CopyToStream;

const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

class FastCopyToStream extends (CopyStreamQuery as unknown as new (text: string, options?: object) => CopyToStream & Internals) {
  private header = Buffer.alloc(5);
  private headerBytes = 0;
  private code = 0;
  /** Bytes of the current message's body still to come; -1 between messages. */
  private remaining = -1;
  /** The chunk being filled, its used bytes, where the current row began. */
  private chunk: Buffer | undefined;
  private used = 0;
  private rowStart = 0;
  private firstRow = true;

  constructor(text: string, private readonly chunkBytes: number) {
    // Whole chunks are pushed as objects: a byte stream would let one read() merge two.
    // One buffered chunk keeps the socket busy while the consumer hashes and compresses.
    super(text, { objectMode: true, highWaterMark: 1 });
  }

  override _parse(chunk: Buffer): boolean | undefined {
    let drained = true;
    let pos = 0;
    let done = false;
    while (pos < chunk.length) {
      if (this.remaining < 0) {
        while (this.headerBytes < 5 && pos < chunk.length) this.header[this.headerBytes++] = chunk[pos++]!;
        if (this.headerBytes < 5) break;
        this.code = this.header[0]!;
        if (this.code === ERROR_RESPONSE) {
          // pg parses the error itself: give it back everything from the error's first byte.
          this.giveBack(Buffer.concat([this.header, chunk.subarray(pos)]));
          this._detach();
          return;
        }
        this.remaining = this.header.readUInt32BE(1) - 4;
        this.headerBytes = 0;
        if (this.code === COPY_DATA) this.startRow(this.remaining);
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      if (this.code === COPY_DATA) this.used = copyBytes(chunk, pos, pos + n, this.chunk!, this.used);
      pos += n;
      this.remaining -= n;
      if (this.remaining === 0) {
        this.remaining = -1;
        if (this.code === COPY_DATA && !this.endRow()) drained = false;
        if (!DURING_COPY.has(this.code)) {
          done = true;
          break;
        }
      }
    }
    if (done) {
      if (this.used > 0) this.push(this.chunk!.subarray(0, this.used));
      this.giveBack(chunk.subarray(pos));
      this._detach();
      this.push(null);
      this._cleanup();
    }
    return drained;
  }

  private startRow(length: number): void {
    const needed = this.used + length;
    if (!this.chunk || needed > this.chunk.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, this.chunkBytes + (this.chunkBytes >> 2)));
      if (this.chunk) this.chunk.copy(grown, 0, 0, this.used);
      this.chunk = grown;
    }
    this.rowStart = this.used;
  }

  /** A CopyData message is one row (or the binary header or trailer). Returns push()'s verdict. */
  private endRow(): boolean {
    const chunk = this.chunk!;
    if (this.firstRow) {
      this.firstRow = false;
      const first = chunk.subarray(this.rowStart, this.used);
      if (first.length >= 19 && first.subarray(0, 11).equals(BINARY_SIGNATURE)) {
        // The binary header (signature, flags, extension) travels with the first row (or with
        // the trailer, for no rows) and belongs to neither.
        const headerLength = 19 + first.readUInt32BE(15);
        chunk.copy(chunk, this.rowStart, this.rowStart + headerLength, this.used);
        this.used -= headerLength;
      }
    }
    // The binary trailer; a text row always ends with a newline, a binary row never starts with -1.
    if (this.used - this.rowStart === 2 && chunk[this.rowStart] === 0xff && chunk[this.rowStart + 1] === 0xff) this.used = this.rowStart;
    // The first row end at or after chunkBytes closes the chunk: cuts depend on the rows alone.
    if (this.used < this.chunkBytes) return true;
    const full = this.chunk!.subarray(0, this.used);
    this.chunk = undefined;
    this.used = 0;
    return this.push(full);
  }

  /** What _detach hands back to pg: the bytes after copy-out. */
  private giveBack(rest: Buffer): void {
    this._buffer = { size: rest.length, take: () => rest };
  }
}

/**
 * Copies source[from, to) to target at `at`; returns the new end. TypedArray#set with a view is
 * a plain memcpy; Buffer#copy validates its arguments and builds a view per call besides, which
 * costs more than the copy itself for rows of a few hundred bytes.
 */
function copyBytes(source: Buffer, from: number, to: number, target: Buffer, at: number): number {
  target.set(source.subarray(from, to), at);
  return at + (to - from);
}

/**
 * COPY TO as chunks of whole rows: each ends at the first row end at or after `chunkBytes` from
 * its start (the rule of cutIntoChunks in src/core/copy-format.ts, whose output this equals),
 * binary chunks without header and trailer. The server sends one CopyData message per row, so
 * rows are found without scanning them, and each byte is copied once.
 */
export function fastCopyToChunks(sql: string, chunkBytes: number): CopyToStream {
  return new FastCopyToStream(sql, chunkBytes);
}
