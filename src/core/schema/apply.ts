// Applying captured statements to a restore target. Statements needing a role the target lacks
// are skipped with a warning (the rest of the schema still restores); any other failure stops
// the restore with the object's name and PostgreSQL's message.
import { RestoreTargetError, TransientError } from '../errors.ts';
import type { CatalogQuery, DdlStatement } from './model.ts';

/** Names of the roles that exist on the target (the cluster), for `applyStatements`. */
export async function listRoles(query: CatalogQuery): Promise<ReadonlySet<string>> {
  const rows = await query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles');
  return new Set(rows.map((r) => r.rolname));
}

// Deadlocks can happen between statements of one post-data wave run concurrently (two foreign
// keys between the same tables lock them in opposite orders); they are worth a retry.
const RETRYABLE = new Set(['40P01', '40001', '55P03']);

/**
 * Runs `statements` in order on one session. Works inside or outside a transaction; it sets
 * check_function_bodies off for the session first when functions are among the statements
 * (bodies may reference objects created later, as in pg_dump's output).
 * Returns one warning per statement skipped for a missing role.
 * Throws RestoreTargetError (TransientError for deadlocks) naming the object on failure.
 */
export async function applyStatements(
  query: CatalogQuery,
  statements: readonly DdlStatement[],
  existingRoles: ReadonlySet<string>,
): Promise<string[]> {
  const warnings: string[] = [];
  if (statements.some((s) => s.kind === 'function' || s.kind === 'procedure')) {
    await query('SET check_function_bodies = false');
  }
  for (const statement of statements) {
    const missing = (statement.roles ?? []).filter((role) => !existingRoles.has(role));
    if (missing.length > 0) {
      const list = missing.map((r) => `"${r}"`).join(', ');
      warnings.push(`skipped ${statement.kind} statement for ${statement.object}: role ${list} does not exist on the target`);
      continue;
    }
    try {
      await query(statement.sql);
    } catch (err) {
      const { message, code } = err as { message?: string; code?: string };
      const text = `Restoring ${statement.object} failed: ${message ?? String(err)}`;
      if (code && RETRYABLE.has(code)) throw new TransientError(text, { cause: err });
      throw new RestoreTargetError(text, { cause: err });
    }
  }
  return warnings;
}

/**
 * Applies post-data waves in order, running the statements of one wave on up to `concurrency`
 * sessions at once. `run` applies a list of statements on one session (usually by opening or
 * borrowing a session and calling applyStatements) and returns its warnings.
 */
export async function applyWaves(
  waves: readonly DdlStatement[][],
  run: (statements: DdlStatement[]) => Promise<string[]>,
  concurrency: number,
): Promise<string[]> {
  const warnings: string[] = [];
  const lanes = Math.max(1, Math.floor(concurrency));
  for (const wave of waves) {
    const queue = [...wave];
    const results = await Promise.all(
      Array.from({ length: Math.min(lanes, queue.length) }, async () => {
        const out: string[] = [];
        for (let next = queue.shift(); next; next = queue.shift()) out.push(...(await runWithRetry(run, next)));
        return out;
      }),
    );
    warnings.push(...results.flat());
  }
  return warnings;
}

async function runWithRetry(run: (statements: DdlStatement[]) => Promise<string[]>, statement: DdlStatement): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run([statement]);
    } catch (err) {
      if (!(err instanceof TransientError) || attempt >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
