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
import { withoutComments, withoutConcurrently } from './ddl-statements.ts';
import { abbreviate, RecordedStatements } from './recorded-statements.ts';
import { watchRewrite } from './undecoded.ts';

export class ChangeApplier {
  private readonly identities: RowIdentities;
  private readonly batches: RowBatches;
  private readonly statements = new RecordedStatements();

  /**
   * `counts`: the row counts the replay must end with (replay-counts.ts). `reorder`: the target
   * runs no triggers or foreign-key checks during replay, so changes to different tables may be
   * sent in separate batches (row-batches.ts).
   */
  constructor(
    private readonly session: SqlSession,
    private readonly counts?: ReplayRowCounts,
    reorder = false,
    /** Records a warning of the restore, in the replayed transaction (undecoded.ts). */
    private readonly warn?: (message: string) => Promise<void>,
  ) {
    this.identities = new RowIdentities(session);
    this.batches = new RowBatches(session, reorder);
  }

  async apply(record: ChangeRecord, xid: string): Promise<void> {
    if (!this.statements.reranIn(xid)) return this.applyOne(record, xid);
    try {
      return await this.applyOne(record, xid);
    } catch (err) {
      throw this.statements.afterRerun(err);
    }
  }

  private async applyOne(record: ChangeRecord, xid: string): Promise<void> {
    switch (record.k) {
      case 'I': {
        const found = await this.identities.find(record.rel);
        if (!found) {
          if (!this.unborn.length) this.unbornXid = xid;
          return void this.unborn.push(record);
        }
        if (found.matview) return;
        const { generated, identityAlways } = found;
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
        if (identity.matview) return;
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
            `SELECT 1 FROM ONLY ${record.rel} WHERE ${where.sql}`,
            where.params,
            record.rel,
            xid,
            'UPDATE',
          );
        const assign = written.map((c, i) => `${c[0]} = $${i + 1}`).join(', ');
        const params = [...written.map((c) => c[2]), ...where.params];
        const cond = shift(where.sql, written.length);
        return this.exactlyOne(
          `UPDATE ONLY ${record.rel} SET ${assign} WHERE ${cond} RETURNING 1`,
          params,
          record.rel,
          xid,
          'UPDATE',
        );
      }
      case 'D': {
        const identity = await this.identities.of(record.rel);
        if (identity.matview) return;
        if (!record.old) throw unreplayable(record.rel, xid, 'DELETE');
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
          `DELETE FROM ONLY ${record.rel} WHERE ${where.sql} RETURNING 1`,
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
        const ddl = JSON.parse(record.content) as {
          query: string;
          searchPath: string;
          tag: string;
          objects?: string[];
        };
        await this.counts?.resolve(xid, true);
        const statement = this.statements.statementOf(ddl, xid);
        // Another DDL command of a call replay has run again already: nothing more to run.
        if (statement === undefined) return void this.identities.clear();
        // A temporary object belonged to its source session and holds no rows the archive has; in
        // the one replay session it would live on and shadow a permanent object of the same name
        // for the unqualified DDL of every later session.
        if (ddl.objects?.length && ddl.objects.every((o) => TEMPORARY.test(o))) {
          for (const o of ddl.objects) {
            const name = o.replace(TEMPORARY, '').replace(/\(.*$/, '');
            this.temporary.add(`${xid}:${name}`);
            this.temporaryNames.add(name);
          }
          this.skippedTemporary = true;
          return;
        }
        // A DROP in the transaction (so the session) that made a temporary object of that name drops that one.
        if (ddl.tag.startsWith('DROP ') && this.dropsTemporary(statement, xid)) return;
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', ddl.searchPath]);
        if (ddl.tag.startsWith('DROP ')) await this.notAmbiguousDrop(statement, ddl.tag, xid);
        const rewrite =
          ddl.tag === 'ALTER TABLE' && this.warn ? await watchRewrite(this.session, ddl.objects, statement) : undefined;
        try {
          await this.runDdl(withoutConcurrently(statement), ddl.tag);
        } catch (err) {
          if (err instanceof VerificationError) throw err;
          throw new VerificationError(
            `Replay of transaction ${xid}: its DDL command ${ddl.tag} failed in the target: ${(err as Error).message}. The statement (run with search_path ${ddl.searchPath}): ${abbreviate(statement)}. ` +
              'DDL replays from its recorded text, so what it reads must be in the target as it was at the source (not a temporary table of the source session, not a change outside the archive); ' +
              `restore to a point before transaction ${xid}.`,
            { cause: err },
          );
        }
        const rewritten = await rewrite?.(xid);
        if (rewritten) await this.warn?.(rewritten);
        // Row changes name their relations fully, but their user-defined types as the archiver's session saw them.
        await this.session.query('SELECT pg_catalog.set_config($1, $2, true)', ['search_path', '"$user", public']);
        this.identities.clear();
        return this.afterCreate(ddl.tag, xid);
      }
    }
  }

  /** Replay left out DDL of temporary objects: a DROP that finds nothing may have dropped one of them. */
  private skippedTemporary = false;
  /** Temporary objects left out, as `xid:name` (name as its identity quotes it, without arguments). */
  private readonly temporary = new Set<string>();

  /** Names of temporary objects left out, in any transaction. */
  private readonly temporaryNames = new Set<string>();

  /**
   * A DROP in a later transaction of a name an earlier one created as a temporary object (left
   * out) may have dropped that temporary object (its session's) or a permanent one of the same
   * name: the archive does not say which session ran it. When the target holds a permanent
   * relation of that name, replaying the DROP could remove it in silence: refused instead.
   */
  private async notAmbiguousDrop(statement: string, tag: string, xid: string): Promise<void> {
    if (!/^DROP (TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE|FOREIGN TABLE|INDEX)$/.test(tag)) return;
    const names = droppedNames(statement).filter(
      (n) => this.temporaryNames.has(n) || this.temporaryNames.has(n.toLowerCase()),
    );
    if (!names.length) return;
    const [held] = await this.session.query<{ names: string[] | null }>(
      'SELECT pg_catalog.array_agg(n) FILTER (WHERE pg_catalog.to_regclass(n) IS NOT NULL) AS names FROM pg_catalog.unnest($1::text[]) AS n',
      [names],
    );
    if (!held?.names?.length) return;
    throw new VerificationError(
      `Replay of transaction ${xid}: ${abbreviate(statement)} drops ${held.names.join(', ')}, a name an earlier transaction also gave a temporary table (left out of the replay, as temporary objects are). ` +
        'The archive does not say which session ran the DROP, so replay cannot tell whether it dropped that temporary table or the permanent one the target holds; replaying it could remove the permanent one in silence. ' +
        `Restore to a point before transaction ${xid}.`,
    );
  }

  private dropsTemporary(statement: string, xid: string): boolean {
    const names = droppedNames(statement);
    return (
      names.length > 0 &&
      names.every((n) => this.temporary.has(`${xid}:${n}`) || this.temporary.has(`${xid}:${n.toLowerCase()}`))
    );
  }

  /**
   * Runs a replayed DDL statement. A DROP (whose message names no objects) that finds nothing to
   * drop after replay left temporary objects out dropped one of those at the source: nothing to do.
   */
  private async runDdl(statement: string, tag: string): Promise<void> {
    if (!this.skippedTemporary || !tag.startsWith('DROP ')) return void (await this.session.query(statement));
    await this.session.query('SAVEPOINT tidemark_drop');
    try {
      await this.session.query(statement);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== '42P01' && code !== '42704' && code !== '42883') throw err;
      await this.session.query('ROLLBACK TO SAVEPOINT tidemark_drop');
    }
    await this.session.query('RELEASE SAVEPOINT tidemark_drop');
  }

  /** The archive holds whole old rows of `rel`'s updates and deletes: it has no key (REPLICA IDENTITY FULL). */
  async wholeOldRows(rel: string): Promise<boolean> {
    return (await this.identities.of(rel)).key === null;
  }

  /** Sends queued changes; call before the transaction commits. */
  async flush(): Promise<void> {
    this.noUnborn();
    try {
      await this.batches.flushAll();
    } catch (err) {
      throw this.statements.afterRerun(err);
    }
  }

  /** A new transaction: DDL messages match statements of their query string afresh. */
  beginTransaction(): void {
    this.noUnborn();
    this.statements.beginTransaction();
  }

  /**
   * Inserts into a table the target does not hold yet, with their transaction: CREATE TABLE AS
   * and SELECT INTO write their rows before the DDL message that creates the table comes
   * (ddl_command_end), so they wait for it.
   */
  private unborn: ChangeRecord[] = [];
  private unbornXid = '';

  /**
   * After a DDL command: the waiting rows of each table it created. A table CREATE TABLE AS or
   * SELECT INTO made holds the rows its query computed in the target; the archive's rows, as the
   * source wrote them, replace them (a query of now(), random() or a sequence computes others).
   */
  private async afterCreate(tag: string, xid: string): Promise<void> {
    if (!this.unborn.length) return;
    const waiting = this.unborn;
    this.unborn = [];
    const filled = new Set<string>();
    for (const record of waiting) {
      if (record.k !== 'I') continue;
      if (!(await this.identities.find(record.rel))) {
        this.unborn.push(record);
        continue;
      }
      if ((tag === 'CREATE TABLE AS' || tag === 'SELECT INTO') && !filled.has(record.rel)) {
        filled.add(record.rel);
        await this.session.query(`TRUNCATE ONLY ${record.rel}`);
      }
      await this.apply(record, xid);
    }
  }

  /** Rows for a table no replayed DDL created: the archive lacks that DDL. */
  private noUnborn(): void {
    const first = this.unborn[0];
    if (!first || first.k !== 'I') return;
    this.unborn = [];
    throw new VerificationError(
      `Replay of transaction ${this.unbornXid}: it inserts into ${first.rel}, which does not exist in the target at that point and which no DDL of the archive created (DDL that ran without the capture: before PITR was enabled, or with the event trigger disabled, or with its message lost). The restore cannot go past it; restore to a point before transaction ${this.unbornXid}.`,
    );
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
      // A whole old row is compared in its type's output form, as the source wrote it (format's
      // %s; a cast to text is not always that: inet adds its mask, char drops trailing blanks):
      // json, point and xml have no equality operator, and equality is looser than identity where
      // it matters to tell rows apart (citext, -0 and 0, 1.0 and 1.00, nondeterministic collations).
      return identity.key ? `${n} = $${params.length}` : `pg_catalog.format('%s', ${n}) = $${params.length}`;
    });
    // Without a key, identical rows are interchangeable: touch one of them.
    const sql = identity.key
      ? terms.join(' AND ')
      : `ctid = (SELECT ctid FROM ONLY ${rel} WHERE ${terms.join(' AND ')} LIMIT 1)`;
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

/** An object identity in a session's temporary schema (pg_temp.t, pg_temp_3.f()). */
const TEMPORARY = /^pg_temp(_\d+)?\./;

/** Renumbers `$n` placeholders by `by`. */
function shift(sql: string, by: number): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + by}`);
}

/** The names a DROP statement names (as written, without a pg_temp. prefix or arguments). */
function droppedNames(statement: string): string[] {
  return withoutComments(statement)
    .replace(/^\s*DROP\s+\w+(\s+\w+)?\s+(IF\s+EXISTS\s+)?/i, '')
    .split(',')
    .map((n) =>
      n
        .trim()
        .replace(/\s+(CASCADE|RESTRICT)\s*$/i, '')
        .replace(/^pg_temp\./i, '')
        .replace(/\(.*$/, '')
        .trim(),
    );
}
