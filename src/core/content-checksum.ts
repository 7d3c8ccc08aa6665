// An order-independent checksum of a table's rows, recorded at backup time and recomputed from
// the restored table. Order independence matters because parallel loads do not preserve
// physical row order. Each row gets two independent 32-bit hashes (over 4-byte words, then the
// tail bytes, each finished with murmur3's fmix32 and mixed with the row length); the checksum
// is their sums modulo 2^32 plus the row count, so a missing, extra, duplicated or altered row
// changes it. Not cryptographic: chunk SHA-256 ids guard the stored bytes; this guards the
// database content after the load.
import { walkRows, type CopyFormat } from './copy-format.ts';
import type { CopiedRows, SqlSession } from './ports/database.ts';
import { hashRowSums } from './row-hash.ts';

export class ContentChecksum {
  rows = 0;
  private sumA = 0;
  private sumB = 0;

  /** Adds every row of a chunk (whole rows in the given COPY format). */
  addRows(buf: Buffer, format: CopyFormat = 'text'): void {
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    walkRows(buf, format, (start, end) => this.addRow(buf, view, start, end));
  }

  /**
   * Adds rows whose ends are known (as COPY TO delivers them): no walk over their fields. Text
   * rows are hashed without their newline, as walkRows reports them. row-hash.wat computes the
   * same hashes as addRow, faster; addRow remains the reference and the fallback.
   */
  addCopied(copied: CopiedRows, format: CopyFormat = 'text'): void {
    const { data, rowEnds } = copied;
    const trim = format === 'text' ? 1 : 0;
    const sums = hashRowSums(data, rowEnds, trim);
    if (sums) {
      this.sumA = (this.sumA + sums.sumA) >>> 0;
      this.sumB = (this.sumB + sums.sumB) >>> 0;
      this.rows += rowEnds.length;
      return;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let start = 0;
    for (let i = 0; i < rowEnds.length; i++) {
      const end = rowEnds[i]!;
      this.addRow(data, view, start, end - trim);
      start = end;
    }
  }

  private addRow(buf: Buffer, view: DataView, start: number, end: number): void {
    let a = 0x811c9dc5 ^ (end - start);
    let b = 0x2545f491;
    let i = start;
    for (const last = end - 4; i <= last; i += 4) {
      const word = view.getUint32(i, true);
      a = Math.imul(a ^ word, 0x01000193);
      a ^= a >>> 15;
      b = Math.imul(b + word, 0x5bd1e995);
      b ^= b >>> 13;
    }
    for (; i < end; i++) {
      a = Math.imul(a ^ buf[i]!, 0x01000193);
      b = Math.imul(b + buf[i]!, 0x5bd1e995);
    }
    this.sumA = (this.sumA + fmix32(a)) >>> 0;
    this.sumB = (this.sumB + fmix32(b ^ Math.imul(end - start, 0x9e3779b1))) >>> 0;
    this.rows++;
  }

  merge(other: ContentChecksum): void {
    this.rows += other.rows;
    this.sumA = (this.sumA + other.sumA) >>> 0;
    this.sumB = (this.sumB + other.sumB) >>> 0;
  }

  /** Takes rows out again (the sums are modulo 2^32, so this undoes `merge`). */
  subtract(other: ContentChecksum): void {
    this.rows -= other.rows;
    this.sumA = (this.sumA - other.sumA) >>> 0;
    this.sumB = (this.sumB - other.sumB) >>> 0;
  }

  /** `<hexA><hexB>`: 16 hex characters. Row counts are recorded separately. */
  get digest(): string {
    return this.sumA.toString(16).padStart(8, '0') + this.sumB.toString(16).padStart(8, '0');
  }

  static fromParts(rows: number, digest: string): ContentChecksum {
    const c = new ContentChecksum();
    c.rows = rows;
    c.sumA = parseInt(digest.slice(0, 8), 16) >>> 0;
    c.sumB = parseInt(digest.slice(8, 16), 16) >>> 0;
    return c;
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bytes per read when a table is read back only to be checksummed. */
const READ_BACK_BYTES = 1024 * 1024;

/** Runs a `COPY … TO STDOUT` and returns the checksum of the rows it reads (nothing is kept). */
export async function checksumOfCopy(session: SqlSession, sql: string, format: CopyFormat): Promise<ContentChecksum> {
  const checksum = new ContentChecksum();
  for await (const rows of session.copyOutChunks(sql, READ_BACK_BYTES)) {
    checksum.addCopied(rows, format);
    rows.release?.();
  }
  return checksum;
}
