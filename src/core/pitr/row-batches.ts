// Replay's row changes, batched within a transaction (FORMAT.md, "Replay rule"): consecutive
// inserts into a table with the same columns become one multi-row INSERT, updates by key with the
// same changed columns one `UPDATE … FROM (VALUES …)`, deletes by key one
// `DELETE … WHERE (key) IN (VALUES …)`. Each batched UPDATE/DELETE must touch exactly as many
// rows as it holds changes (keys in a batch are distinct), so every change still touches one row.
//
// With `reorder` (replay runs as session_replication_role = replica, so no trigger and no foreign
// key check fires), each table has its own open batch: changes to different tables commute, while
// one table's changes keep their order. Without it, one batch is open at a time.
import type { SqlSession } from '../ports/database.ts';
import { VerificationError } from '../errors.ts';

type Value = string | null;

interface Batch {
  kind: 'INSERT' | 'UPDATE' | 'DELETE';
  rel: string;
  /** Changes that fit together: same kind and columns. */
  shape: string;
  rows: Value[][];
  /** The archived transaction of each row: batches span small transactions (replay.ts). */
  xids: string[];
  /** Key values in the batch (UPDATE, DELETE), as JSON: a key seen again closes the batch first. */
  keys: Set<string>;
  sql(rows: Value[][]): string;
}

/** A statement takes at most 65,535 parameters; a batch also stays small enough to build fast. */
const MAX_PARAMS = 60_000;
const MAX_ROWS = 2000;
/** Rows queued over all tables before everything is sent: memory stays bounded. */
const MAX_PENDING = 20_000;

export class RowBatches {
  private readonly open = new Map<string, Batch>();
  private pending = 0;

  constructor(
    private readonly session: SqlSession,
    private readonly reorder: boolean,
  ) {}

  async insert(xid: string, rel: string, columns: string[], values: Value[], overriding: boolean): Promise<void> {
    const into = `INSERT INTO ${rel} (${columns.join(', ')})${overriding ? ' OVERRIDING SYSTEM VALUE' : ''} VALUES `;
    await this.push(
      xid,
      rel,
      'INSERT',
      columns.join(','),
      values,
      undefined,
      () => (rows) =>
        columns.length
          ? into + placeholders(rows, columns.length)
          : // A table without columns (CREATE TABLE t ()): its rows have nothing but their number.
            `INSERT INTO ${rel} SELECT FROM pg_catalog.generate_series(1, ${rows.length})`,
    );
  }

  /** `key`/`set`: quoted column names; `types`: the cast of each, key columns first. */
  async update(
    xid: string,
    rel: string,
    key: string[],
    keyValues: Value[],
    set: string[],
    setValues: Value[],
    types: string[],
  ): Promise<void> {
    const alias = [...key.map((_, i) => `k${i}`), ...set.map((_, i) => `c${i}`)].join(', ');
    const assign = set.map((c, i) => `${c} = tidemark_new.c${i}`).join(', ');
    const match = key.map((c, i) => `tidemark_row.${c} = tidemark_new.k${i}`).join(' AND ');
    const returning = key.map((c, i) => `tidemark_row.${c}::pg_catalog.text AS k${i}`).join(', ');
    await this.push(
      xid,
      rel,
      'UPDATE',
      set.join(','),
      [...keyValues, ...setValues],
      JSON.stringify(keyValues),
      () => (rows) =>
        `UPDATE ONLY ${rel} AS tidemark_row SET ${assign} FROM (VALUES ${placeholders(rows, types.length, types)}) AS tidemark_new (${alias}) WHERE ${match} RETURNING ${returning}`,
    );
  }

  async delete(xid: string, rel: string, key: string[], keyValues: Value[], types: string[]): Promise<void> {
    const returning = key.map((c, i) => `${c}::pg_catalog.text AS k${i}`).join(', ');
    await this.push(
      xid,
      rel,
      'DELETE',
      '',
      keyValues,
      JSON.stringify(keyValues),
      () => (rows) =>
        `DELETE FROM ONLY ${rel} WHERE (${key.join(', ')}) IN (VALUES ${placeholders(rows, key.length, types)}) RETURNING ${returning}`,
    );
  }

  /** Sends what is queued for `rel` (everything, without reorder): a change that is not batched comes next. */
  async flushTable(rel: string): Promise<void> {
    if (!this.reorder) return this.flushAll();
    const batch = this.open.get(rel);
    if (batch) await this.send(batch);
  }

  /** Sends every queued batch: before DDL, TRUNCATE and COMMIT. */
  async flushAll(): Promise<void> {
    for (const batch of [...this.open.values()]) await this.send(batch);
  }

  private async push(
    xid: string,
    rel: string,
    kind: Batch['kind'],
    shape: string,
    row: Value[],
    key: string | undefined,
    statement: () => Batch['sql'],
  ): Promise<void> {
    let batch = this.open.get(rel);
    if (batch && (batch.kind !== kind || batch.shape !== shape || (key !== undefined && batch.keys.has(key)))) {
      await this.send(batch);
      batch = undefined;
    }
    if (!batch) {
      if (!this.reorder) await this.flushAll();
      batch = { kind, rel, shape, rows: [], xids: [], keys: new Set(), sql: statement() };
      this.open.set(rel, batch);
    }
    batch.rows.push(row);
    batch.xids.push(xid);
    if (key !== undefined) batch.keys.add(key);
    this.pending++;
    if (batch.rows.length >= MAX_ROWS || (batch.rows.length + 1) * Math.max(1, row.length) > MAX_PARAMS)
      await this.send(batch);
    if (this.pending >= MAX_PENDING) await this.flushAll();
  }

  private async send(batch: Batch): Promise<void> {
    this.open.delete(batch.rel);
    this.pending -= batch.rows.length;
    const touched = await this.session.query<Record<string, string>>(batch.sql(batch.rows), batch.rows.flat());
    if (batch.kind === 'INSERT' || touched.length === batch.rows.length) return;
    // Name the first change that found no row: its key is not among those the statement returned.
    const found = new Set(touched.map((r) => JSON.stringify(Object.keys(r).map((_, i) => r[`k${i}`]))));
    const missing = [...batch.keys].findIndex((k) => !found.has(k));
    const xid = batch.xids[Math.max(0, missing)]!;
    const what =
      missing >= 0
        ? `its ${batch.kind} of one row of ${batch.rel} (key ${[...batch.keys][missing]})`
        : `one of its ${batch.kind}s of rows of ${batch.rel}`;
    throw new VerificationError(
      `Replay of transaction ${xid}: ${what} touched ${missing >= 0 ? 0 : 'more than one'} rows in the target (a statement of ${batch.rows.length} batched changes touched ${touched.length}). ` +
        'The target does not hold what the archive expects (a backup and an archive of different databases, or a change outside the archive); the restore failed.',
    );
  }
}

/** `($1, $2), ($3, $4)` for `rows` of `width`, each parameter cast when `types` are given. */
function placeholders(rows: unknown[][], width: number, types?: string[]): string {
  return rows
    .map(
      (_, r) =>
        `(${Array.from({ length: width }, (_, c) => (types ? `CAST($${r * width + c + 1} AS ${types[c]})` : `$${r * width + c + 1}`)).join(', ')})`,
    )
    .join(', ');
}
