// Which statement of a DDL message's recorded query string replay runs (FORMAT.md, "Replay
// rule"): the one of the message's command tag, in order, or the call that issued the DDL (a DO
// block, function or procedure), run again once for all the DDL it issued; refused when the
// DDL came from a statement that writes rows (a trigger's DDL).
import { VerificationError } from '../errors.ts';
import { matchesTag, splitStatements, withoutComments } from './ddl-statements.ts';

export class RecordedStatements {
  /** A failure after replay ran a call again (statementOf): says that the call may have written its rows twice. */
  afterRerun(err: unknown): unknown {
    const rerun = this.rerun;
    if (!rerun) return err;
    return new VerificationError(
      `Replay of transaction ${rerun.xid} failed: ${(err as Error).message}. Its DDL ran inside a call (a DO block, function or procedure), so replay ran that statement again in the target: ${abbreviate(rerun.statement)}. ` +
        `If the call also wrote rows, the archive holds them too and they were written twice. DDL run inside a call cannot be replayed exactly when the call writes rows; restore to a point before transaction ${rerun.xid}.`,
      { cause: err },
    );
  }

  /** The call replay ran again for a DDL command issued inside it, in this transaction (see statementOf). */
  private rerun: { xid: string; query: string; at: number; statement: string } | undefined;

  /** Whether replay ran a call again in transaction `xid` (a failure then may be its rows written twice). */
  reranIn(xid: string): boolean {
    return this.rerun?.xid === xid;
  }

  /** A new transaction: DDL messages match statements of their query string afresh. */
  beginTransaction(): void {
    this.ddlCursor = undefined;
  }

  private ddlCursor: { query: string; next: number } | undefined;

  /** The one statement of the recorded query string that this DDL message stands for. */
  statementOf(ddl: { query: string; tag: string }, xid: string): string | undefined {
    const statements = splitStatements(ddl.query);
    if (statements.length <= 1) {
      if (!statements.length || matchesTag(statements[0]!, ddl.tag)) return ddl.query;
      return this.callOf(statements, 0, ddl, xid);
    }
    const from = this.ddlCursor?.query === ddl.query ? this.ddlCursor.next : 0;
    const at = statements.findIndex((s, i) => i >= from && matchesTag(s, ddl.tag));
    // No statement is that command: a call among them issued it (BEGIN; SELECT f(); COMMIT).
    const call = at < 0 ? statements.findIndex((s, i) => i >= from && CALLS.test(withoutComments(s))) : -1;
    if (call >= 0) return this.callOf(statements, call, ddl, xid);
    if (at < 0) {
      throw new VerificationError(
        `Replay of transaction ${xid}: its DDL command ${ddl.tag} was recorded with a query string of ${statements.length} statements, none of which (after the ones already replayed) is a ${ddl.tag}. This DDL cannot be replayed; restore to a point before transaction ${xid}.`,
      );
    }
    this.ddlCursor = { query: ddl.query, next: at + 1 };
    return statements[at]!;
  }

  /**
   * A DDL command the statement did not run itself: code it called did (a DO block, a function,
   * a procedure, a trigger). Replay runs the call again, once for all the DDL commands it issued
   * (a function that creates a table and its index sends two messages with the same query).
   * A statement that writes rows (INSERT, UPDATE, DELETE, MERGE, COPY) ran the DDL from a
   * trigger: running it again would write its rows twice, and the target's triggers do not fire
   * during replay, so it would not even make the DDL. Refused, naming the transaction.
   */
  private callOf(
    statements: string[],
    at: number,
    ddl: { query: string; tag: string },
    xid: string,
  ): string | undefined {
    const statement = statements[at]!;
    const verb = /^\s*(\w+)/.exec(withoutComments(statement))?.[1]?.toUpperCase();
    if (verb && ['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'WITH'].includes(verb)) {
      throw new VerificationError(
        `Replay of transaction ${xid}: its DDL command ${ddl.tag} ran inside ${abbreviate(statement)}, a statement that writes rows (the DDL came from a trigger or a function it called). ` +
          `Replay cannot run that DDL by itself, and running the statement again would write its rows twice; restore to a point before transaction ${xid}.`,
      );
    }
    if (this.rerun?.xid === xid && this.rerun.query === ddl.query && this.rerun.at === at) return undefined;
    this.rerun = { xid, query: ddl.query, at, statement };
    return statement;
  }
}

/** Statements that run code which may issue DDL, or write rows whose triggers may (refused in callOf). */
const CALLS = /^\s*(SELECT|DO|CALL|EXECUTE|VALUES|INSERT|UPDATE|DELETE|MERGE|COPY|WITH)\b/i;

/** A statement for a message: its first 200 characters. */
export function abbreviate(statement: string): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}
