// Applies one archived row change or DDL command to the target, inside the replayed
// transaction. Values go as untyped text parameters, so the server reads each one with its
// column's type (as the source's output function wrote it); row changes by key are batched
// (row-batches.ts). Every UPDATE and DELETE must touch exactly one row (issue 13, item 5).
import type { ChangeRecord, DecodedColumn } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import { VerificationError } from '../errors.ts';
import type { ReplayRowCounts } from './replay-counts.ts';
import { RowIdentities } from './row-identity.ts';
import { RowBatches } from './row-batches.ts';
import { matchesTag, splitStatements, withoutConcurrently } from './ddl-statements.ts';

export class ChangeApplier {
  private readonly identities: RowIdentities;
  private readonly batches: RowBatches;

  /**
   * `counts`: the row counts the replay must end with (replay-counts.ts). `reorder`: the target
   * runs no triggers or foreign-key checks during replay, so changes to different tables may be
   * sent in separate batches (row-batches.ts).
   */
  constructor(
    private readonly session: SqlSession,
    private readonly counts?: ReplayRowCounts,
    reorder = false,
  ) {
    this.identities = new RowIdentities(session);
    this.batches = new RowBatches(session, reorder);
  }

  async apply(record: ChangeRecord, xid: string): Promise<void> {
    switch (record.k) {
      case 'I': {
        const { generated, identityAlways } = await this.identities.of(record.rel);
        const cols = record.new.filter((c) => !generated.has(c[0]));
        this.counts?.inserted(record.rel, 1);
        return this.batches.insert(
          xid,
          record.rel,
          cols.map((c) => c[0]),
          cols.map((c) => c[2]),
          cols.some((c) => identityAlways.has(c[0])),
        );
      }
      case 'U': {
        const identity = await this.identities.of(record.rel);
        const { generated, identityAlways, key } = identity;
        this.counts?.updated(record.rel);
        const written = record.new.filter((c) => !generated.has(c[0]) && !identityAlways.has(c[0]));
        const keyValues = key && !record.old ? keyOf(key, record.new) : undefined;
        const set = written.filter((c) => !key?.includes(c[0]));
        if (keyValues && set.length && !identity.otherUnique) {
          const columns = [...key!, ...set.map((c) => c[0])];
          return this.batches.update(
            xid,
            record.rel,
            key!,
            keyValues,
            set.map((c) => c[0]),
            set.map((c) => c[2]),
            columns.map((c) => identity.types.get(c)!),
          );
        }
        await this.batches.flushTable(record.rel);
        const where = await this.rowCondition(record.rel, record.old ?? record.new, !record.old, xid, 'UPDATE');
        // Only computed columns changed: the target computes them too, but the row must be there.
        if (!written.length)
          return this.exactlyOne(
            `SELECT 1 FROM ${record.rel} WHERE ${where.sql}`,
            where.params,
            record.rel,
            xid,
            'UPDATE',
          );
        const assign = written.map((c, i) => `${c[0]} = $${i + 1}`).join(', ');
        const params = [...written.map((c) => c[2]), ...where.params];
        const cond = shift(where.sql, written.length);
        return this.exactlyOne(
          `UPDATE ${record.rel} SET ${assign} WHERE ${cond} RETURNING 1`,
          params,
          record.rel,
          xid,
          'UPDATE',
        );
      }
      case 'D': {
        if (!record.old) throw unreplayable(record.rel, xid, 'DELETE');
        const identity = await this.identities.of(record.rel);
        this.counts?.deleted(record.rel);
        const keyValues = identity.key ? keyOf(identity.key, record.old) : undefined;
        if (keyValues)
          return this.batches.delete(
            xid,
            record.rel,
            identity.key!,
            keyValues,
            identity.key!.map((c) => identity.types.get(c)!),
          );
        await this.batches.flushTable(record.rel);
        const where = await this.rowCondition(record.rel, record.old, false, xid, 'DELETE');
        return this.exactlyOne(
          `DELETE FROM ${record.rel} WHERE ${where.sql} RETURNING 1`,
          where.params,
          record.rel,
          xid,
          'DELETE',
        );
      }
      case 'T':
        await this.batches.flushAll();
        this.counts?.truncated(record.rels);
        await this.session.query(
          `TRUNCATE ${record.rels.join(', ')}${record.flags.includes('restart_seqs') ? ' RESTART IDENTITY' : ''}${record.flags.includes('cascade') ? ' CASCADE' : ''}`,
        );
        return;
      case 'M': {
        await this.batches.flushAll();
        const ddl = JSON.parse(record.content) as { query: string; searchPath: string; tag: string };
        await this.counts?.resolve(xid, true);
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', ddl.searchPath]);
        await this.session.query(withoutConcurrently(this.statementOf(ddl, xid)));
        // Row changes name their relations fully, but their user-defined types as the archiver's session saw them.
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', '"$user", public']);
        this.identities.clear();
        return;
      }
    }
  }

  /** The archive holds whole old rows of `rel`'s updates and deletes: it has no key (REPLICA IDENTITY FULL). */
  async wholeOldRows(rel: string): Promise<boolean> {
    return (await this.identities.of(rel)).key === null;
  }

  /** Sends queued changes; call before the transaction commits. */
  async flush(): Promise<void> {
    await this.batches.flushAll();
  }

  /** A new transaction: DDL messages match statements of their query string afresh. */
  beginTransaction(): void {
    this.ddlCursor = undefined;
  }

  private ddlCursor: { query: string; next: number } | undefined;

  /** The one statement of the recorded query string that this DDL message stands for. */
  private statementOf(ddl: { query: string; tag: string }, xid: string): string {
    const statements = splitStatements(ddl.query);
    if (statements.length <= 1) return ddl.query;
    const from = this.ddlCursor?.query === ddl.query ? this.ddlCursor.next : 0;
    const at = statements.findIndex((s, i) => i >= from && matchesTag(s, ddl.tag));
    if (at < 0) {
      throw new VerificationError(
        `Replay of transaction ${xid}: its DDL command ${ddl.tag} was recorded with a query string of ${statements.length} statements, none of which (after the ones already replayed) is a ${ddl.tag}. This DDL cannot be replayed; restore to a point before transaction ${xid}.`,
      );
    }
    this.ddlCursor = { query: ddl.query, next: at + 1 };
    return statements[at]!;
  }

  private async exactlyOne(sql: string, params: unknown[], rel: string, xid: string, what: string): Promise<void> {
    const rows = await this.session.query(sql, params);
    if (rows.length !== 1) {
      throw new VerificationError(
        `Replay of transaction ${xid}: its ${what} of one row of ${rel} touched ${rows.length} rows in the target. ` +
          'The target does not hold what the archive expects (a backup and an archive of different databases, or a change outside the archive); the restore failed.',
      );
    }
  }

  /** `WHERE` of the row `columns` describe: by key when the table has one, else by every column. */
  private async rowCondition(
    rel: string,
    columns: DecodedColumn[],
    keyFromNew: boolean,
    xid: string,
    what: string,
  ): Promise<{ sql: string; params: unknown[] }> {
    const identity = await this.identities.of(rel);
    const byName = new Map(columns.map((c) => [c[0], c[2]]));
    let names: string[];
    if (identity.key) names = identity.key;
    else if (!keyFromNew)
      names = identity.columns; // REPLICA IDENTITY FULL: the whole old row (nulls left out by the decoder)
    else throw unreplayable(rel, xid, what);
    const params: unknown[] = [];
    const terms = names.map((n) => {
      const v = byName.get(n);
      if (v === undefined || v === null) return `${n} IS NULL`;
      params.push(v);
      return `${n} = $${params.length}`;
    });
    // Without a key, identical rows are interchangeable: touch one of them.
    const sql = identity.key
      ? terms.join(' AND ')
      : `ctid = (SELECT ctid FROM ${rel} WHERE ${terms.join(' AND ')} LIMIT 1)`;
    return { sql, params };
  }
}

function unreplayable(rel: string, xid: string, what: string): VerificationError {
  return new VerificationError(
    `Replay of transaction ${xid}: its ${what} on ${rel} cannot be replayed, because the table had no primary key and no replica identity at the source, so the archive cannot say which row changed. ` +
      `Give the table a key (ALTER TABLE ${rel} ADD PRIMARY KEY (…)) or ALTER TABLE ${rel} REPLICA IDENTITY FULL at the source; restore to a point before this transaction.`,
  );
}

/** The key's values from a decoded row, or undefined when one is missing (then the row goes alone). */
function keyOf(key: string[], columns: DecodedColumn[]): (string | null)[] | undefined {
  const byName = new Map(columns.map((c) => [c[0], c[2]]));
  const values = key.map((k) => byName.get(k));
  return values.every((v) => v !== undefined && v !== null) ? (values as string[]) : undefined;
}

/** Renumbers `$n` placeholders by `by`. */
function shift(sql: string, by: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}
