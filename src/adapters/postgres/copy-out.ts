// COPY TO STDOUT with one Buffer per socket read instead of one per row. pg-copy-streams'
// CopyStreamQuery owns the hard part (taking the connection's data from pg and handing it back
// after CopyDone or an error); this subclass replaces only its message parser, which sliced every
// CopyData payload into its own Buffer: at ~10 million rows per GB that allocation and the
// garbage it leaves cost about a third of the export's main thread. Pinned to pg-copy-streams
// 7.0.0's internals (`_parse`, `_buffer`, `_detach`, `_cleanup`), which test/unit/copy-out.test.ts
// and every backup test exercise.
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

const CopyStreamQuery = Object.getPrototypeOf(copyTo('')).constructor as new (text: string) => CopyToStream;

class FastCopyToStream extends (CopyStreamQuery as unknown as new (text: string) => CopyToStream & Internals) {
  private header = Buffer.alloc(5);
  private headerBytes = 0;
  private code = 0;
  /** Bytes of the current message's body still to come; -1 between messages. */
  private remaining = -1;

  override _parse(chunk: Buffer): boolean | undefined {
    const out = Buffer.allocUnsafe(chunk.length);
    let written = 0;
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
          if (written > 0) this.push(out.subarray(0, written));
          this._detach();
          return;
        }
        this.remaining = this.header.readUInt32BE(1) - 4;
        this.headerBytes = 0;
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      if (this.code === COPY_DATA) written += chunk.copy(out, written, pos, pos + n);
      pos += n;
      this.remaining -= n;
      if (this.remaining === 0) {
        this.remaining = -1;
        if (!DURING_COPY.has(this.code)) {
          done = true;
          break;
        }
      }
    }
    const drained = written > 0 ? this.push(out.subarray(0, written)) : true;
    if (done) {
      this.giveBack(chunk.subarray(pos));
      this._detach();
      this.push(null);
      this._cleanup();
    }
    return drained;
  }

  /** What _detach hands back to pg: the bytes after copy-out. */
  private giveBack(rest: Buffer): void {
    this._buffer = { size: rest.length, take: () => rest };
  }
}

export function fastCopyTo(sql: string): CopyToStream {
  return new FastCopyToStream(sql);
}
