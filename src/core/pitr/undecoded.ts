// What logical decoding does not carry, so a replay cannot bring it forward from the backup: the
// restore says so, by object, instead of restoring it differently in silence (FORMAT.md,
// "Replay rule"). Unlogged tables write no WAL; large objects (lo_*) and sequences (setval,
// nextval) change catalogs and relations that are not decoded; a table rewrite computes its rows
// without decoding them, so a rewrite that evaluates a volatile default (random(), now(), a new
// serial column) computes other values when replayed.
import type { SqlSession } from '../ports/database.ts';
import { PROGRESS_SCHEMA } from '../restore/progress-table.ts';
import { RAISED_SEQUENCES } from './sequences.ts';

export interface ReplayBase {
  backupId: string;
  /** The backup's snapshot time. */
  time: string;
}

/** What the change archive cannot carry that the database holds (preflight.ts warns of it too, at enable). */
export async function notArchived(
  session: SqlSession,
): Promise<{ unlogged: string[]; largeObjects: number; unraisedSequences: string[] }> {
  const [row] = await session.query<{ unlogged: string[] | null; large_objects: number; sequences: string[] | null }>(
    `SELECT (SELECT pg_catalog.array_agg(c.oid::pg_catalog.regclass::text ORDER BY 1)
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p', 'm')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${PROGRESS_SCHEMA}')) AS unlogged,
            (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_largeobject_metadata) AS large_objects,
            -- Sequences replay does not raise from a column (sequences.ts): nothing in the archive says how far they went.
            (SELECT pg_catalog.array_agg(s.oid::pg_catalog.regclass::text ORDER BY 1)
               FROM pg_catalog.pg_class s JOIN pg_catalog.pg_namespace n ON n.oid = s.relnamespace
              WHERE s.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${PROGRESS_SCHEMA}')
                AND s.oid NOT IN (${RAISED_SEQUENCES})) AS sequences`,
  );
  return {
    unlogged: row?.unlogged ?? [],
    largeObjects: row?.large_objects ?? 0,
    unraisedSequences: row?.sequences ?? [],
  };
}

/** After replay: the unlogged tables, large objects and sequences not raised that the target holds as of the backup. */
export async function undecodedWarnings(session: SqlSession, base: ReplayBase): Promise<string[]> {
  const asOf = `as of backup ${base.backupId} (${base.time}), not of the point`;
  const found = await notArchived(session);
  const warnings: string[] = [];
  for (const table of found.unlogged)
    warnings.push(
      `Unlogged table ${table} is ${asOf}: changes to unlogged tables are not written to the WAL, so the change archive has none.`,
    );
  if (found.largeObjects)
    warnings.push(
      `The ${found.largeObjects} large objects are ${asOf}: logical decoding does not carry large object writes (lo_put, lo_import, lo_unlink…).`,
    );
  const sequences = found.unraisedSequences;
  if (sequences.length)
    warnings.push(
      `Sequence${sequences.length === 1 ? '' : 's'} ${sequences.join(', ')} ${sequences.length === 1 ? 'is' : 'are'} ${asOf}: ` +
        'logical decoding does not carry sequences, and no column uses them to raise them by (sequences that feed a column end above its highest value).',
    );
  return warnings;
}

/**
 * Watches a replayed ALTER TABLE: when it rewrote a table while adding a column whose default is
 * volatile (a function marked volatile, or a sequence), the rewrite computed values of its own.
 * Returns the warning then, or undefined. A rewrite by ALTER COLUMN … TYPE … USING leaves no trace
 * of its expression in the catalogs: that the expression may have been volatile is said instead.
 */
export async function watchRewrite(
  session: SqlSession,
  objects: readonly string[] | undefined,
  statement: string,
): Promise<(xid: string) => Promise<string | undefined>> {
  const tables = (objects ?? []).filter((o) => !o.includes('('));
  if (!tables.length) return async () => undefined;
  const before = await fileNodes(session, tables);
  return async (xid) => {
    const after = await fileNodes(session, tables);
    const rewritten = [...after].filter(([t, a]) => before.has(t) && before.get(t)!.node !== a.node);
    if (!rewritten.length) return undefined;
    const volatile = await session.query<{ rel: string; columns: string[] }>(
      `SELECT ad.adrelid::pg_catalog.regclass::text AS rel, pg_catalog.array_agg(DISTINCT a.attname::text) AS columns
         FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::int[])) AS t(name, attnum)
         JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = pg_catalog.to_regclass(t.name) AND ad.adnum > t.attnum
         JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum AND NOT a.attisdropped
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND d.objid = ad.oid
         LEFT JOIN pg_catalog.pg_proc p ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = d.refobjid
        WHERE p.provolatile = 'v' OR d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
        GROUP BY 1`,
      [rewritten.map(([t]) => t), rewritten.map(([t]) => before.get(t)!.columns)],
    );
    if (!volatile.length) {
      if (!USING_EXPRESSION.test(statement)) return undefined;
      return (
        `Transaction ${xid} rewrote ${rewritten.map(([, a]) => a.rel).join(', ')} with ALTER COLUMN … TYPE … USING: the rewritten rows are not in the change archive, so replay computed them again. ` +
        "If that expression is volatile (clock_timestamp(), random(), a sequence), they differ from the source; restore to a point before that transaction, or from a backup taken after it, for the source's values."
      );
    }
    return (
      `Transaction ${xid} rewrote ${volatile.map((v) => `${v.rel} (column ${v.columns.join(', ')})`).join(', ')} adding a column with a volatile default: ` +
      'the rows the rewrite computed are not in the change archive, so replay computed them again and they differ from the source. ' +
      "Restore to a point before that transaction, or from a backup taken after it, for the source's values."
    );
  };
}

/** `ALTER COLUMN c TYPE t USING expr` (not `USING INDEX` of a replica identity or constraint, nor an access method). */
const USING_EXPRESSION = /\bTYPE\b[^;]*?\bUSING\b(?!\s+INDEX\b)/i;

/** Each table's file (a rewrite gives it a new one) and its highest column number (what a command adds is above it). */
async function fileNodes(
  session: SqlSession,
  tables: string[],
): Promise<Map<string, { rel: string; node: string; columns: number }>> {
  const rows = await session.query<{ name: string; rel: string; node: string; columns: number }>(
    `SELECT t.name, c.oid::pg_catalog.regclass::text AS rel, c.relfilenode::text AS node,
            (SELECT pg_catalog.max(a.attnum)::int FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid) AS columns
       FROM pg_catalog.unnest($1::text[]) AS t(name)
       JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t.name)`,
    [tables],
  );
  return new Map(rows.map((r) => [r.name, { rel: r.rel, node: r.node, columns: r.columns }]));
}
