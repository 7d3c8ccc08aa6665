// COPY TO STDOUT as chunks of whole rows. pg-copy-streams' CopyStreamQuery owns the hard part
// (taking the connection's data from pg and handing it back after CopyDone or an error); this
// subclass replaces only its message parser.
//
// Why a parser of our own: the server sends one CopyData message per row, ~7 million per GB.
// Slicing each into a Buffer (pg-copy-streams) or even copying each through a Buffer view cost
// more main-thread time than compressing the data. Here every socket read is appended once to
// the chunk being filled, and each row's payload is moved left over its 5-byte message header
// with copyWithin (a memmove, no allocation). Row ends are recorded as they are found, so
// nobody has to walk the rows again to hash them.
// Pinned to pg-copy-streams 7.0.0's internals (`_parse`, `_buffer`, `_detach`, `_cleanup`),
// which test/unit/copy-out.test.ts and every backup test exercise.
import { to as copyTo } from 'pg-copy-streams';
import type { CopiedRows } from '#core/ports/database.ts';

const COPY_DATA = 0x64;
const COPY_DONE = 0x63;
const ERROR_RESPONSE = 0x45;
/** Messages that may arrive during copy-out without ending it. */
const DURING_COPY = new Set([
  0x48 /* CopyOutResponse */, 0x53 /* ParameterStatus */, 0x4e /* Notice */, 0x41 /* Notification */,
]);
/** Message type byte and int32 length. */
const HEADER = 5;
/** Room for socket reads past the chunk's target size, so most chunks never grow. */
const SLACK = 256 * 1024;

type CopyToStream = ReturnType<typeof copyTo>;
type Internals = {
  _parse(chunk: Buffer): boolean | undefined;
  _buffer: { size: number; take(n: number): Buffer } | null;
  _detach(): void;
  _cleanup(): void;
  push(chunk: CopiedRows | null): boolean;
};

const CopyStreamQuery = Object.getPrototypeOf(copyTo('')).constructor as new (
  text: string,
  options?: object,
) => CopyToStream;

const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * Chunk buffers given back by consumers (CopiedRows.release), by size. Without reuse, every
 * chunk is a fresh multi-megabyte allocation outside V8's heap, and that external memory
 * pressure alone made V8 run a full mark-compact every few chunks (~13 % of the export's main
 * thread at 300 MB).
 */
const spare = new Map<number, Buffer[]>();
const SPARE_PER_SIZE = 16;

function takeBuffer(size: number): Buffer {
  return spare.get(size)?.pop() ?? Buffer.allocUnsafe(size);
}

function toPool(buf: Buffer): void {
  const list = spare.get(buf.length) ?? [];
  if (list.length < SPARE_PER_SIZE) list.push(buf);
  spare.set(buf.length, list);
}

/** CopiedRows.release for a handed-out buffer: pools it once, however often it is called. */
function releaser(buf: Buffer): () => void {
  let released = false;
  return () => {
    if (!released) toPool(buf);
    released = true;
  };
}

class FastCopyToStream extends (CopyStreamQuery as unknown as new (
  text: string,
  options?: object,
) => CopyToStream & Internals) {
  /**
   * The chunk being filled: [0, used) holds the rows found so far, back to back; [scan, filled)
   * holds socket bytes not parsed yet (used <= scan: payloads only ever move left).
   */
  private buf: Buffer;
  private used = 0;
  private scan = 0;
  private filled = 0;
  private rowEnds = new Uint32Array(4096);
  private rows = 0;
  private firstRow = true;

  constructor(
    text: string,
    private readonly chunkBytes: number,
  ) {
    // Whole chunks are pushed as objects: a byte stream would let one read() merge two.
    // One buffered chunk keeps the socket busy while the consumer hashes and compresses.
    super(text, { objectMode: true, highWaterMark: 1 });
    this.buf = takeBuffer(this.capacityFor(0));
  }

  override _parse(chunk: Buffer): boolean | undefined {
    this.append(chunk);
    let drained = true;
    for (;;) {
      const b = this.buf; // row() may start a new chunk buffer
      if (this.filled - this.scan < HEADER) break;
      const at = this.scan;
      const code = b[at]!;
      if (code === ERROR_RESPONSE) {
        // pg parses the error itself: give it back everything from the error's first byte.
        this.giveBack(at);
        this._detach();
        return;
      }
      const end = at + 1 + ((b[at + 1]! << 24) | (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!);
      if (end > this.filled) {
        // A message not complete yet: make room for all of it now, so it never moves twice.
        if (this.used + (end - this.scan) > b.length) this.grow(end - this.scan);
        break;
      }
      this.scan = end;
      if (code === COPY_DATA) {
        if (!this.row(at + HEADER, end)) drained = false;
      } else if (!DURING_COPY.has(code)) {
        // CopyDone (or anything unexpected) ends copy-out; pg reads the rest (CommandComplete…).
        if (code !== COPY_DONE) this.scan = at;
        this.endCopy();
        return drained;
      }
    }
    return drained;
  }

  /** One CopyData payload [from, to): a row, or the binary header or trailer. */
  private row(from: number, to: number): boolean {
    const b = this.buf;
    let start = from;
    if (this.firstRow) {
      this.firstRow = false;
      // The binary header (signature, flags, extension) travels with the first row (or with the
      // trailer, for no rows) and belongs to neither.
      if (to - from >= 19 && b.subarray(from, from + 11).equals(BINARY_SIGNATURE))
        start += 19 + b.readUInt32BE(from + 15);
    }
    // The binary trailer; a text row always ends with a newline, a binary row never starts with -1.
    if (to - start === 2 && b[start] === 0xff && b[start + 1] === 0xff) return true;
    if (to === start) return true;
    if (start !== this.used) b.copyWithin(this.used, start, to);
    this.used += to - start;
    if (this.rows === this.rowEnds.length) {
      const more = new Uint32Array(this.rows * 2);
      more.set(this.rowEnds);
      this.rowEnds = more;
    }
    this.rowEnds[this.rows++] = this.used;
    // The first row end at or after chunkBytes closes the chunk: cuts depend on the rows alone.
    if (this.used < this.chunkBytes) return true;
    return this.closeChunk();
  }

  /** Pushes the rows found so far and starts a new chunk with the unparsed bytes. */
  private closeChunk(): boolean {
    const full = this.copied();
    const rest = this.filled - this.scan;
    const next = takeBuffer(this.capacityFor(rest));
    this.buf.copy(next, 0, this.scan, this.filled);
    this.buf = next;
    this.used = 0;
    this.scan = 0;
    this.filled = rest;
    this.rows = 0;
    return this.push(full);
  }

  private copied(): CopiedRows {
    return {
      data: this.buf.subarray(0, this.used),
      rowEnds: this.rowEnds.slice(0, this.rows),
      release: releaser(this.buf),
    };
  }

  private append(chunk: Buffer): void {
    if (this.filled + chunk.length > this.buf.length) {
      const unparsed = this.filled - this.scan;
      if (this.used + unparsed + chunk.length <= this.buf.length) {
        // The headers taken out of the rows left a gap: close it (moves only unparsed bytes).
        this.buf.copyWithin(this.used, this.scan, this.filled);
        this.scan = this.used;
        this.filled = this.used + unparsed;
      } else {
        this.grow(unparsed + chunk.length);
      }
    }
    this.buf.set(chunk, this.filled);
    this.filled += chunk.length;
  }

  /** Makes room for `unparsed` bytes after the rows found so far (moving them to a new buffer). */
  private grow(unparsed: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.capacityFor(this.used + unparsed), this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.used);
    this.buf.copy(next, this.used, this.scan, this.filled);
    toPool(this.buf); // never handed out
    this.filled = this.used + (this.filled - this.scan);
    this.scan = this.used;
    this.buf = next;
  }

  private capacityFor(bytes: number): number {
    return Math.max(bytes, this.chunkBytes) + SLACK;
  }

  private endCopy(): void {
    if (this.used > 0) this.push(this.copied());
    this.giveBack(this.scan);
    this._detach();
    this.push(null);
    this._cleanup();
  }

  /** What _detach hands back to pg: the bytes from `from` on (a copy: the chunk is handed out). */
  private giveBack(from: number): void {
    const rest = Buffer.from(this.buf.subarray(from, this.filled));
    this._buffer = { size: rest.length, take: () => rest };
  }
}

/**
 * COPY TO as chunks of whole rows with their row ends: each chunk ends at the first row end at
 * or after `chunkBytes` from its start (the rule of cutIntoChunks in src/core/copy-format.ts,
 * whose output this equals), binary chunks without header and trailer.
 */
export function fastCopyToChunks(sql: string, chunkBytes: number): CopyToStream {
  return new FastCopyToStream(sql, chunkBytes);
}
