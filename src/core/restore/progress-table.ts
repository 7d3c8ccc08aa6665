// Restore progress lives in the target database itself, in schema `_tidemark_restore`, written in
// the same transaction as the work it records. So every restore step is idempotent: a retried or
// resumed task skips what committed and redoes what did not, and a chunk is never loaded twice.
// The schema is dropped when the restore completes.
import type { SqlSession } from '../ports/database.ts';

export const PROGRESS_SCHEMA = '_tidemark_restore';

export async function createProgressTables(session: SqlSession, restoreId: string): Promise<void> {
  await session.query(`CREATE SCHEMA ${PROGRESS_SCHEMA}`);
  await session.query(`CREATE TABLE ${PROGRESS_SCHEMA}.restore (restore_id text PRIMARY KEY, backup_id text NOT NULL)`);
  await session.query(`CREATE TABLE ${PROGRESS_SCHEMA}.done (step text PRIMARY KEY)`);
  await session.query(`CREATE TABLE ${PROGRESS_SCHEMA}.warnings (seq bigserial PRIMARY KEY, message text NOT NULL)`);
  // Rows each incremental layer removed, for verification (apply-layers.ts).
  await session.query(
    `CREATE TABLE ${PROGRESS_SCHEMA}.removed (table_index int, layer int, rows bigint NOT NULL, digest text NOT NULL, PRIMARY KEY (table_index, layer))`,
  );
  // Large objects' pieces, loaded like a table's rows and made objects in Finish (large-objects.ts).
  await session.query(`CREATE TABLE ${PROGRESS_SCHEMA}.large_objects (loid oid, pageno bigint, data bytea)`);
  await session.query(`INSERT INTO ${PROGRESS_SCHEMA}.restore VALUES ($1, '')`, [restoreId]);
}

/** The restore id that owns this database's progress tables, or undefined when there are none. */
export async function progressOwner(session: SqlSession): Promise<string | undefined> {
  const [exists] = await session.query<{ ok: boolean }>(
    `SELECT pg_catalog.to_regclass('${PROGRESS_SCHEMA}.restore') IS NOT NULL AS ok`,
  );
  if (!exists?.ok) return undefined;
  const [row] = await session.query<{ restore_id: string }>(
    `SELECT restore_id FROM ${PROGRESS_SCHEMA}.restore LIMIT 1`,
  );
  return row?.restore_id;
}

export async function doneSteps(session: SqlSession, prefix: string): Promise<Set<string>> {
  const rows = await session.query<{ step: string }>(`SELECT step FROM ${PROGRESS_SCHEMA}.done WHERE step LIKE $1`, [
    `${prefix}%`,
  ]);
  return new Set(rows.map((r) => r.step));
}

/** Runs `work` and records `step` as done, atomically; skips when already done. */
export async function runStepOnce(session: SqlSession, step: string, work: () => Promise<void>): Promise<boolean> {
  await session.query('BEGIN');
  try {
    const inserted = await session.query(
      `INSERT INTO ${PROGRESS_SCHEMA}.done VALUES ($1) ON CONFLICT DO NOTHING RETURNING step`,
      [step],
    );
    if (inserted.length === 0) {
      await session.query('ROLLBACK');
      return false;
    }
    await work();
    await session.query('COMMIT');
    return true;
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function addWarnings(session: SqlSession, messages: string[]): Promise<void> {
  for (const message of messages)
    await session.query(`INSERT INTO ${PROGRESS_SCHEMA}.warnings (message) VALUES ($1)`, [message]);
}

export async function listWarnings(session: SqlSession): Promise<string[]> {
  const rows = await session.query<{ message: string }>(`SELECT message FROM ${PROGRESS_SCHEMA}.warnings ORDER BY seq`);
  return rows.map((r) => r.message);
}

export async function dropProgressTables(session: SqlSession): Promise<void> {
  await session.query(`DROP SCHEMA IF EXISTS ${PROGRESS_SCHEMA} CASCADE`);
}
