// The restore's very last DDL: the source's event triggers (schema/event-triggers.ts), created in
// Complete in the transaction that drops the progress tables, so they fire on nothing the restore
// does — neither its DDL, the materialized view refreshes, a replay, nor that drop.
import type { SqlSession } from '../ports/database.ts';
import type { SchemaSnapshot } from '../schema/model.ts';
import { applyStatements, targetRoles } from '../schema/apply.ts';
import { isEventTriggerStatement } from '../schema/event-triggers.ts';
import { sqlState } from '../retry.ts';
import { verifyEventTriggers } from './verify-catalog.ts';

/** The post-data waves without the event triggers' (Finish runs these). */
export function wavesBeforeEventTriggers(
  schema: SchemaSnapshot,
): { statement: SchemaSnapshot['postData'][number][number]; step: string }[][] {
  return schema.postData.map((wave, w) =>
    wave.flatMap((statement, i) => (isEventTriggerStatement(statement) ? [] : [{ statement, step: `post:${w}:${i}` }])),
  );
}

/**
 * Runs `drop` and then creates the event triggers, in one transaction on `session`: a retry finds
 * either both done or neither. Returns the warnings: statements skipped for a missing role, and
 * event triggers the restoring role may not create (only a superuser may; on RDS and Aurora,
 * rds_superuser) — everything else is restored by then, so each is named with what to run
 * instead of failing the whole restore.
 */
export async function dropAndCreateEventTriggers(
  session: SqlSession,
  schema: SchemaSnapshot,
  drop: () => Promise<void>,
): Promise<string[]> {
  const statements = schema.postData.flat().filter(isEventTriggerStatement);
  const query = <Row>(sql: string, params?: unknown[]) => session.query<Row>(sql, params);
  const roles = statements.length > 0 ? await targetRoles(query, statements) : undefined;
  const warnings: string[] = [];
  const refused = new Set<string>();
  await session.query('BEGIN');
  try {
    await drop();
    for (const statement of roles ? statements : []) {
      if (refused.has(statement.object)) continue; // its trigger was not created
      await session.query('SAVEPOINT tidemark_event_trigger');
      try {
        warnings.push(...(await applyStatements(query, [statement], roles!, () => session.takeWarnings())));
        await session.query('RELEASE SAVEPOINT tidemark_event_trigger');
      } catch (err) {
        if (sqlState(err) !== INSUFFICIENT_PRIVILEGE) throw err;
        await session.query('ROLLBACK TO SAVEPOINT tidemark_event_trigger');
        refused.add(statement.object);
        const creates = statements.filter((s) => s.object === statement.object).map((s) => `${s.sql};`);
        warnings.push(
          `${statement.object} was not created: the restoring role "${roles!.restorer.name}" may not (${(err as Error).message}). ` +
            `A superuser (on RDS and Aurora, rds_superuser) can run: ${creates.join(' ')}`,
        );
      }
    }
    // They come after verification: checked here, before they commit (DESIGN invariant 11).
    await verifyEventTriggers(query, schema.catalogState, warnings);
    await session.query('COMMIT');
    return warnings;
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';
