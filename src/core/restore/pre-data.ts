// Part of step "Prepare": the pre-data schema, in transactions of a bounded number of
// statements. One transaction for all of it holds a lock on every table it creates until it
// commits; with thousands of tables that exhausts the server's lock table ("out of shared memory",
// sized by max_locks_per_transaction), where pg_dump | psql, one statement at a time, succeeds.
// Each transaction records its step (`pre:<statements applied>`) in the progress table, so a
// retry carries on after the last one that committed.
import type { SqlSession } from '../ports/database.ts';
import type { DdlStatement } from '../schema/model.ts';
import { applyStatements, type TargetRoles } from '../schema/apply.ts';
import { addWarnings, doneSteps, runStepOnce } from './progress-table.ts';

/**
 * Statements per transaction: the server's max_locks_per_transaction (64 by default). A
 * statement locks a few objects at most (a table, its TOAST table and index), so a transaction
 * holds a small share of the lock table, which has room for that many per connection.
 */
async function statementsPerTransaction(session: SqlSession): Promise<number> {
  const [row] = await session.query<{ n: number }>(
    `SELECT pg_catalog.current_setting('max_locks_per_transaction')::int AS n`,
  );
  return Math.max(1, row?.n ?? 64);
}

/** Applies what is not yet applied of `preData`; idempotent. Returns the statements applied now. */
export async function applyPreData(
  session: SqlSession,
  preData: readonly DdlStatement[],
  roles: TargetRoles,
): Promise<number> {
  // Steps are named by how many statements are applied once they commit, so a retry resumes
  // right even when max_locks_per_transaction was changed in between (say, raised after a failure).
  const done = [...(await doneSteps(session, 'pre:'))].map((step) => Number(step.slice('pre:'.length)));
  const size = await statementsPerTransaction(session);
  let applied = 0;
  for (let start = Math.max(0, ...done.filter(Number.isFinite)); start < preData.length; start += size) {
    const batch = preData.slice(start, start + size);
    await runStepOnce(session, `pre:${start + batch.length}`, async () => {
      const warnings = await applyStatements(
        (sql, params) => session.query(sql, params),
        batch,
        roles,
        () => session.takeWarnings(),
      );
      await addWarnings(session, warnings);
    });
    applied += batch.length;
  }
  return applied;
}
