// Applies one archived row change or DDL command to the target, inside the replayed
// transaction. Values go as untyped text parameters, so the server reads each one with its
// column's type (as the source's output function wrote it). Every UPDATE and DELETE must touch
// exactly one row (issue 13, item 5).
import type { ChangeRecord, DecodedColumn } from '../ports/change-stream.ts';
import type { SqlSession } from '../ports/database.ts';
import { VerificationError } from '../errors.ts';
import { matchesTag, splitStatements, withoutConcurrently } from './ddl-statements.ts';

/** How the target finds a row of a table again: its key columns, or every column (REPLICA IDENTITY FULL). */
interface RowIdentity {
  key: string[] | null;
  columns: string[];
  /** Generated columns: computed by the target, never written. */
  generated: Set<string>;
  /** GENERATED ALWAYS AS IDENTITY columns: written on INSERT with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways: Set<string>;
}

export class ChangeApplier {
  private identities = new Map<string, RowIdentity>();

  constructor(private readonly session: SqlSession) {}

  /** Consecutive inserts into one table with the same columns go as one multi-row INSERT. */
  private pending:
    | { key: string; rel: string; columns: string[]; rows: (string | null)[][]; overriding: boolean }
    | undefined;

  async apply(record: ChangeRecord, xid: string): Promise<void> {
    if (record.k === 'I') return this.queueInsert(record.rel, record.new);
    await this.flush();
    switch (record.k) {
      case 'U': {
        const where = await this.rowCondition(record.rel, record.old ?? record.new, !record.old, xid, 'UPDATE');
        const { generated, identityAlways } = await this.identity(record.rel);
        const written = record.new.filter((c) => !generated.has(c[0]) && !identityAlways.has(c[0]));
        if (!written.length) return; // only computed columns changed: the target computes them too
        const set = written.map((c, i) => `${c[0]} = $${i + 1}`).join(', ');
        const params = [...written.map((c) => c[2]), ...where.params];
        const cond = shift(where.sql, written.length);
        return this.exactlyOne(
          `UPDATE ${record.rel} SET ${set} WHERE ${cond} RETURNING 1`,
          params,
          record.rel,
          xid,
          'UPDATE',
        );
      }
      case 'D': {
        if (!record.old) throw unreplayable(record.rel, xid, 'DELETE');
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
        await this.session.query(
          `TRUNCATE ${record.rels.join(', ')}${record.flags.includes('restart_seqs') ? ' RESTART IDENTITY' : ''}${record.flags.includes('cascade') ? ' CASCADE' : ''}`,
        );
        return;
      case 'M': {
        const ddl = JSON.parse(record.content) as { query: string; searchPath: string; tag: string };
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', ddl.searchPath]);
        await this.session.query(withoutConcurrently(this.statementOf(ddl, xid)));
        // Row changes name their relations fully, but their user-defined types as the archiver's session saw them.
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', '"$user", public']);
        this.identities.clear();
        return;
      }
    }
  }

  private async queueInsert(rel: string, decoded: DecodedColumn[]): Promise<void> {
    const { generated, identityAlways } = await this.identity(rel);
    const cols = decoded.filter((c) => !generated.has(c[0]));
    const columns = cols.map((c) => c[0]);
    const key = `${rel}\u0000${columns.join(',')}`;
    if (this.pending && this.pending.key !== key) await this.flush();
    this.pending ??= { key, rel, columns, rows: [], overriding: columns.some((c) => identityAlways.has(c)) };
    this.pending.rows.push(cols.map((c) => c[2]));
    // A statement takes at most 65,535 parameters.
    if ((this.pending.rows.length + 1) * Math.max(1, columns.length) > 60_000 || this.pending.rows.length >= 2000)
      await this.flush();
  }

  /** Sends queued inserts; call before the transaction commits. */
  async flush(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const width = p.columns.length;
    if (width === 0) {
      // A table without columns (CREATE TABLE t ()): its rows have nothing but their number.
      for (const _ of p.rows) await this.session.query(`INSERT INTO ${p.rel} DEFAULT VALUES`);
      return;
    }
    const values = p.rows.map((_, r) => `(${p.columns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
    await this.session.query(
      `INSERT INTO ${p.rel} (${p.columns.join(', ')})${p.overriding ? ' OVERRIDING SYSTEM VALUE' : ''} VALUES ${values}`,
      p.rows.flat(),
    );
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
    const identity = await this.identity(rel);
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

  private async identity(rel: string): Promise<RowIdentity> {
    let found = this.identities.get(rel);
    if (!found) {
      const rows = await this.session.query<{ name: string; key: boolean; generated: boolean; always: boolean }>(
        `SELECT pg_catalog.quote_ident(a.attname) AS name, a.attgenerated <> '' AS generated, a.attidentity = 'a' AS always,
                COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid
                   AND (i.indisreplident OR (i.indisprimary AND c.relreplident = 'd')) LIMIT 1)::int2[]), false) AS key
           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
          WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [rel],
      );
      const key = rows.filter((r) => r.key).map((r) => r.name);
      found = {
        key: key.length ? key : null,
        columns: rows.map((r) => r.name),
        generated: new Set(rows.filter((r) => r.generated).map((r) => r.name)),
        identityAlways: new Set(rows.filter((r) => r.always).map((r) => r.name)),
      };
      this.identities.set(rel, found);
    }
    return found;
  }
}

function unreplayable(rel: string, xid: string, what: string): VerificationError {
  return new VerificationError(
    `Replay of transaction ${xid}: its ${what} on ${rel} cannot be replayed, because the table had no primary key and no replica identity at the source, so the archive cannot say which row changed. ` +
      `Give the table a key (ALTER TABLE ${rel} ADD PRIMARY KEY (…)) or ALTER TABLE ${rel} REPLICA IDENTITY FULL at the source; restore to a point before this transaction.`,
  );
}

/** Renumbers `$n` placeholders by `by`. */
function shift(sql: string, by: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}
