// The restore's very last DDL: the source's event triggers (schema/event-triggers.ts), created in
// Complete in the transaction that drops the progress tables, so they fire on nothing the restore
// does — neither its DDL, the materialized view refreshes, a replay, nor that drop.
import type { SqlSession } from '../ports/database.ts';
import type { SchemaSnapshot } from '../schema/model.ts';
import { applyStatements, targetRoles } from '../schema/apply.ts';
import { isEventTriggerStatement } from '../schema/event-triggers.ts';

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
 * either both done or neither. Returns the warnings (statements skipped for a missing role).
 */
export async function dropAndCreateEventTriggers(
  session: SqlSession,
  schema: SchemaSnapshot,
  drop: () => Promise<void>,
): Promise<string[]> {
  const statements = schema.postData.flat().filter(isEventTriggerStatement);
  const query = <Row>(sql: string, params?: unknown[]) => session.query<Row>(sql, params);
  const roles = statements.length > 0 ? await targetRoles(query, statements) : undefined;
  await session.query('BEGIN');
  try {
    await drop();
    const warnings = roles ? await applyStatements(query, statements, roles, () => session.takeWarnings()) : [];
    await session.query('COMMIT');
    return warnings;
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
