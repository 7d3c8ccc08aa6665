// Row counts after replay (issue 13, item 5): each table the replay touched must hold, at the
// target, the backup's rows + inserts − deletes, counting from zero after a TRUNCATE and for a
// table that replayed DDL created. Tables are followed by oid in the target, so a rename in the
// archive keeps its count and a dropped table is not counted.
import type { SqlSession } from '../ports/database.ts';
import type { Manifest } from '../repository/manifest.ts';
import { VerificationError } from '../errors.ts';

/**
 * Where the counts stand after a group commits, as JSON: a replay that goes on in another
 * invocation (restore/replay-step.ts) counts on from it, so it checks what one run would.
 */
export interface RowCountState {
  /** Tables before replay, by oid, with the backup's rows (null: not counted). */
  before: [oid: string, rows: number | null][];
  /** Tables the replay changed, by oid: the rows they must hold, and the last transaction that changed them. */
  changed: [oid: string, expected: number, xid: string][];
}

interface TableCount {
  /** What the table held before replay (0 when replay created it), then what it must hold now. */
  expected: number;
  /** The last transaction that changed its rows: where to look when the count is wrong. */
  xid: string;
}

export class ReplayRowCounts {
  private readonly byOid = new Map<string, TableCount>();
  /** This transaction's changes by relation name, resolved to oids before each DDL and at commit. */
  private pending = new Map<string, { delta: number; truncated: boolean }>();
  private oids = new Map<string, string>();

  private constructor(
    private readonly session: SqlSession,
    /** Tables that existed before replay, by oid: the backup's row count (undefined: not in the backup, so not counted). */
    private readonly before: Map<string, number | undefined>,
  ) {}

  /** The target's tables after the backup's restore, with the rows the manifest says they hold. */
  static async start(session: SqlSession, manifest: Manifest): Promise<ReplayRowCounts> {
    const rows = new Map(
      manifest.tables.map((t) => [`${t.schema}.${t.name}`, t.layers?.at(-1)?.rowsAfter ?? t.rows] as const),
    );
    const tables = await session.query<{ oid: string; schema: string; name: string }>(
      `SELECT c.oid::pg_catalog.int8::text AS oid, n.nspname AS schema, c.relname AS name
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    // A table the manifest does not list is not counted: there is no count to start from.
    const before = new Map(tables.map((t) => [t.oid, rows.get(`${t.schema}.${t.name}`)] as const));
    return new ReplayRowCounts(session, before);
  }

  /** Counts on from `state` (taken after a commit) in the same target. */
  static resume(session: SqlSession, state: RowCountState): ReplayRowCounts {
    const counts = new ReplayRowCounts(session, new Map(state.before.map(([oid, rows]) => [oid, rows ?? undefined])));
    for (const [oid, expected, xid] of state.changed) counts.byOid.set(oid, { expected, xid });
    return counts;
  }

  /** Between transactions (after `resolve`): what `resume` counts on from. */
  state(): RowCountState {
    return {
      before: [...this.before].map(([oid, rows]) => [oid, rows ?? null]),
      changed: [...this.byOid].map(([oid, c]) => [oid, c.expected, c.xid]),
    };
  }

  inserted(rel: string, rows: number): void {
    this.entry(rel).delta += rows;
  }

  /** An update leaves the count as it is, but puts the table among those counted. */
  updated(rel: string): void {
    this.entry(rel);
  }

  deleted(rel: string): void {
    this.entry(rel).delta--;
  }

  truncated(rels: string[]): void {
    for (const rel of rels) this.pending.set(rel, { delta: 0, truncated: true });
  }

  /** Before a DDL command (it may rename or drop what the names point at) and before COMMIT. */
  async resolve(xid: string, ddlFollows: boolean): Promise<void> {
    for (const [rel, change] of this.pending) {
      const oid = await this.oidOf(rel);
      if (!oid || (this.before.has(oid) && this.before.get(oid) === undefined)) continue;
      const count = this.byOid.get(oid) ?? { expected: this.before.get(oid) ?? 0, xid };
      count.expected = (change.truncated ? 0 : count.expected) + change.delta;
      count.xid = xid;
      this.byOid.set(oid, count);
    }
    this.pending.clear();
    if (ddlFollows) this.oids.clear();
  }

  /** Counts each table the replay changed; a difference fails the restore. Returns the tables checked. */
  async verify(): Promise<number> {
    let checked = 0;
    for (const [oid, count] of this.byOid) {
      const [table] = await this.session.query<{ rel: string }>(
        'SELECT c.oid::pg_catalog.regclass::text AS rel FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.oid',
        [oid],
      );
      if (!table) continue; // dropped by a later replayed DDL
      const [{ n }] = (await this.session.query<{ n: string }>(
        `SELECT pg_catalog.count(*)::text AS n FROM ONLY ${table.rel}`,
      )) as [{ n: string }];
      checked++;
      if (Number(n) !== count.expected) {
        throw new VerificationError(
          `After replay, table ${table.rel} holds ${n} rows where the backup and the archive say ${count.expected} (the last transaction that changed it: ${count.xid}). ` +
            'The target does not match the archive (a change outside it, or a replay fault); the restore failed. Restore to a point before that transaction, and report this.',
        );
      }
    }
    return checked;
  }

  private entry(rel: string) {
    let e = this.pending.get(rel);
    if (!e) this.pending.set(rel, (e = { delta: 0, truncated: false }));
    return e;
  }

  private async oidOf(rel: string): Promise<string | undefined> {
    let oid = this.oids.get(rel);
    if (oid === undefined) {
      const [row] = await this.session.query<{ oid: string | null }>(
        'SELECT pg_catalog.to_regclass($1)::pg_catalog.oid::pg_catalog.int8::text AS oid',
        [rel],
      );
      oid = row?.oid ?? '';
      this.oids.set(rel, oid);
    }
    return oid || undefined;
  }
}
