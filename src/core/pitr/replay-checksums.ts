// Content checksums after replay, for tables whose archive holds whole old rows (REPLICA IDENTITY
// FULL; issue 13, item 5). The backup's checksum is a sum of row hashes (content-checksum.ts), so
// the archive's changes move it exactly: + each inserted row, − each deleted one, − old + new for
// an update. The rows are hashed as COPY text writes them (the decoder and COPY share the
// sessions' output settings), and the table is read back as the restore's verification does.
// Whatever could make the figure inexact leaves the table to the row count alone: a binary or
// filtered table, an incremental base, a column the change does not carry, any replayed DDL.
import type { ChangeRecord, DecodedColumn } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import type { Manifest } from '../repository/manifest.ts';
import { ContentChecksum, checksumOfCopy } from '../content-checksum.ts';
import { VerificationError } from '../errors.ts';
import { qualifiedName, quoteIdent, quoteIdentLikeServer } from '../sql.ts';

interface Tracked {
  /** Quoted for SQL. */
  name: string;
  /** Quoted for SQL, in the manifest's order: the COPY's columns. */
  copyColumns: string;
  /** The same, quoted as the decoder names them. */
  columns: string[];
  sum: ContentChecksum;
  touched: boolean;
  xid: string;
}

/** The tables still followed after a group commits, as JSON (see RowCountState): the others are left to their row count. */
export type ChecksumState = [rel: string, rows: number, digest: string, touched: boolean, xid: string][];

export class ReplayChecksums {
  private readonly tables = new Map<string, Tracked>();

  constructor(manifest: Manifest) {
    manifest.tables.forEach((t, i) => {
      if (t.format !== 'text' || t.layers?.length || manifest.schema.tables[i]?.source || !t.columns.length) return;
      // Keyed as the decoder names relations (quoted only where the server would).
      const rel = `${quoteIdentLikeServer(t.schema)}.${quoteIdentLikeServer(t.name)}`;
      this.tables.set(rel, {
        name: qualifiedName(t.schema, t.name),
        copyColumns: t.columns.map(quoteIdent).join(', '),
        columns: t.columns.map(quoteIdentLikeServer),
        sum: ContentChecksum.fromParts(t.rows, t.checksum),
        touched: false,
        xid: '',
      });
    });
  }

  /** Follows on from `state`, taken by an earlier invocation of the same replay. */
  static resume(manifest: Manifest, state: ChecksumState): ReplayChecksums {
    const checksums = new ReplayChecksums(manifest);
    const kept = new Map(state.map((s) => [s[0], s] as const));
    for (const [rel, t] of checksums.tables) {
      const s = kept.get(rel);
      if (!s) checksums.tables.delete(rel);
      else Object.assign(t, { sum: ContentChecksum.fromParts(s[1], s[2]), touched: s[3], xid: s[4] });
    }
    return checksums;
  }

  state(): ChecksumState {
    return [...this.tables].map(([rel, t]) => [rel, t.sum.rows, t.sum.digest, t.touched, t.xid]);
  }

  /** Follows one applied record; `full`: the table's old rows are whole (it has no key to find them by). */
  observe(record: ChangeRecord, xid: string, full: (rel: string) => boolean): void {
    if (record.k === 'M') return this.tables.clear(); // DDL: columns and names may have changed
    if (record.k === 'T') {
      for (const rel of record.rels) this.update(rel, xid, (t) => (t.sum = new ContentChecksum()));
      return;
    }
    if (record.k !== 'I' && record.k !== 'U' && record.k !== 'D') return;
    const t = this.tables.get(record.rel);
    if (!t) return;
    if (record.k !== 'I' && !full(record.rel)) return void this.tables.delete(record.rel);
    const old = record.k === 'I' ? undefined : record.old;
    const oldRow = old ? rowText(t.columns, old, true) : undefined;
    const newRow =
      record.k === 'D'
        ? undefined
        : rowText(t.columns, record.k === 'U' && record.toast?.length ? [...record.new, ...(old ?? [])] : record.new);
    if ((record.k !== 'I' && oldRow === undefined) || (record.k !== 'D' && newRow === undefined))
      return void this.tables.delete(record.rel);
    this.update(record.rel, xid, (tracked) => {
      if (oldRow !== undefined) tracked.sum.subtract(hash(oldRow));
      if (newRow !== undefined) tracked.sum.merge(hash(newRow));
    });
  }

  /** Reads back each table followed to the end; a different checksum fails the restore. Returns the tables checked. */
  async verify(session: SqlSession): Promise<number> {
    let checked = 0;
    for (const t of this.tables.values()) {
      if (!t.touched) continue;
      const copy = `COPY ${t.name} (${t.copyColumns}) TO STDOUT`;
      const got = await checksumOfCopy(session, copy, 'text');
      checked++;
      if (got.rows !== t.sum.rows || got.digest !== t.sum.digest) {
        throw new VerificationError(
          `After replay, table ${t.name} holds ${got.rows} rows with checksum ${got.digest} where the backup and the archive say ${t.sum.rows} rows with checksum ${t.sum.digest} (the last transaction that changed it: ${t.xid}). ` +
            'The target does not match the archive; the restore failed. Restore to a point before that transaction, and report this.',
        );
      }
    }
    return checked;
  }

  private update(rel: string, xid: string, change: (t: Tracked) => void): void {
    const t = this.tables.get(rel);
    if (!t) return;
    change(t);
    t.touched = true;
    t.xid = xid;
  }
}

/**
 * The row as COPY text writes it, or undefined when a column is missing. `old`: the decoder
 * leaves nulls out of an old row, so a missing column there is null.
 */
function rowText(columns: string[], decoded: DecodedColumn[], old = false): string | undefined {
  const values = new Map<string, string | null>();
  // The first value of a name wins: an update's new values, then its old row's (unchanged TOAST).
  for (const [name, , value] of decoded) if (!values.has(name)) values.set(name, value);
  const fields: string[] = [];
  for (const c of columns) {
    const v = values.get(c);
    if (v === undefined && !old) return undefined;
    fields.push(v === undefined || v === null ? '\\N' : escapeCopy(v));
  }
  return fields.join('\t');
}

/** COPY text escaping (PostgreSQL's CopyAttributeOutText with a tab delimiter). */
function escapeCopy(value: string): string {
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

function hash(row: string): ContentChecksum {
  const c = new ContentChecksum();
  c.addRows(Buffer.from(`${row}\n`, 'utf8'), 'text');
  return c;
}
