// Step "Finish": the layers of an incremental backup (apply-layers.ts), post-data DDL (indexes and constraints, each wave in parallel sessions),
// sequence values, materialized view refreshes. Every statement is recorded in the progress
// table in its own transaction, so a retry resumes where the last run stopped.
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { DdlStatement } from '../schema/model.ts';
import { TidemarkError } from '../errors.ts';
import { applyStatements, targetRoles, type TargetRoles } from '../schema/apply.ts';
import { partitionParents, retryRetryable, runWaves } from '../schema/post-data-units.ts';
import { qualifiedName, quoteLiteral } from '../sql.ts';
import { addWarnings, doneSteps, runStepOnce } from './progress-table.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { applyLayers } from './apply-layers.ts';
import { wavesBeforeEventTriggers } from './event-triggers.ts';
import { createLargeObjects } from './large-objects.ts';
import { withTablespaceMap } from '../schema/tablespaces.ts';

export interface FinishInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  /** Parallel sessions for post-data statements. */
  parallelism?: number;
  /** `--tablespace-map`: where the indexes of a source tablespace go (Resolve checked it). */
  tablespaceMap?: Record<string, string>;
}

export async function finishRestore(
  input: FinishInput,
  ctx: TaskContext,
): Promise<{ postDataStatements: number; sequences: number; materializedViews: number }> {
  const manifest = await cachedManifest(ctx.storage, input.backupId);
  const { schema } = manifest;
  const parallelism = Math.max(1, input.parallelism ?? 2);
  const sessions: SqlSession[] = [];
  try {
    for (let i = 0; i < parallelism; i++) {
      const session = await ctx.databases.connect(input.target, { applicationName: 'tidemark finish' });
      sessions.push(session);
      // Index builds sort in memory instead of spilling to disk (128 MB a session stays safe on
      // small instances); commits as in load.ts.
      await session.query(`SET maintenance_work_mem = '128MB'`);
      await session.query('SET synchronous_commit = off');
    }
    const main = sessions[0]!;
    const roles = await targetRoles((sql, params) => main.query(sql, params), schema.postData.flat());
    await applyLayers(main, manifest, ctx);
    await createLargeObjects(main, schema); // before their owners and grants (post-data)
    const done = await doneSteps(main, '');
    let count = 0;
    // Units of one wave run side by side; the statements of a unit in order on one session
    // (post-data-units.ts: index attaches of one tree deepest first, a tree's foreign keys together).
    const tableParents = partitionParents(schema.preData);
    // Event triggers are created in Complete, after everything the restore does (event-triggers.ts).
    const postData = schema.postData.map((wave) => withTablespaceMap(wave, input.tablespaceMap));
    const waves = wavesBeforeEventTriggers({ ...schema, postData });
    count += waves.reduce((n, wave) => n + wave.length, 0);
    await runWaves(
      waves,
      sessions,
      (item) => item.statement,
      tableParents,
      (session, item) => applyOnce(session, item.step, item.statement, roles),
      (item) => done.has(item.step),
    );
    for (const seq of schema.sequences) {
      const step = `sequence:${seq.schema}.${seq.name}`;
      if (done.has(step)) continue;
      await runStepOnce(main, step, async () => {
        await main.query(
          `SELECT pg_catalog.setval(${quoteLiteral(qualifiedName(seq.schema, seq.name))}, ${seq.lastValue}, ${seq.isCalled})`,
        );
      });
    }
    for (const mv of schema.materializedViews) {
      const step = `refresh:${mv.schema}.${mv.name}`;
      if (done.has(step)) continue;
      await runStepOnce(main, step, async () => {
        await main.query(`REFRESH MATERIALIZED VIEW ${qualifiedName(mv.schema, mv.name)}`);
      });
    }
    return {
      postDataStatements: count,
      sequences: schema.sequences.length,
      materializedViews: schema.materializedViews.length,
    };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}

/** Statements of one wave can still deadlock (foreign keys referencing one tree): retried with backoff. */
async function applyOnce(
  session: SqlSession,
  step: string,
  statement: DdlStatement,
  roles: TargetRoles,
): Promise<void> {
  try {
    await retryRetryable(() =>
      runStepOnce(session, step, async () => {
        const warnings = await applyStatements(
          (sql, params) => session.query(sql, params),
          [statement],
          roles,
          () => session.takeWarnings(),
        );
        await addWarnings(session, warnings);
      }),
    );
  } catch (err) {
    if (err instanceof TidemarkError) throw err;
    throw new TidemarkError(`Restoring ${statement.object} failed: ${(err as Error).message}`, { cause: err });
  }
}
