// Part of step "Finish", after the load and before post-data: the large objects, created from the
// pieces the load staged (schema/large-objects.ts) — with their own oids, as pg_restore does —
// in one transaction recorded in the progress table, so a retry does it once. Their owners,
// privileges and comments follow in post-data.
import type { SqlSession } from '../ports/database.ts';
import type { SchemaSnapshot } from '../schema/model.ts';
import { LARGE_OBJECT_PIECE } from '../schema/large-objects.ts';
import { RestoreTargetError } from '../errors.ts';
import { PROGRESS_SCHEMA, runStepOnce } from './progress-table.ts';

export async function createLargeObjects(session: SqlSession, schema: SchemaSnapshot): Promise<void> {
  if (!schema.tables.some((t) => t.source?.kind === 'large objects')) return;
  const staged = `${PROGRESS_SCHEMA}.large_objects`;
  await runStepOnce(session, 'large-objects', async () => {
    try {
      await session.query(`SELECT pg_catalog.lo_create(loid) FROM (SELECT DISTINCT loid FROM ${staged}) o`);
      await session.query(
        `SELECT pg_catalog.lo_put(loid, pageno * ${LARGE_OBJECT_PIECE}, data) FROM ${staged} WHERE pg_catalog.length(data) > 0 ORDER BY loid, pageno`,
      );
    } catch (err) {
      throw new RestoreTargetError(
        `Restoring the large objects failed: ${(err as Error).message}. A large object with the same oid on the target (restore into an empty database) or a role without the right to create them (lo_compat_privileges, superuser) are the usual causes.`,
        { cause: err },
      );
    }
  });
}
