// Opens a session that reads inside the run's exported snapshot (DESIGN.md, "Consistency"),
// with row_security off: a read that row-level security would filter fails instead (as under
// pg_dump), so an export never takes a subset of a table's rows for the whole.
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { SnapshotExpiredError } from '../errors.ts';

export async function openSnapshotSession(
  ctx: TaskContext,
  source: DatabaseRef,
  snapshotId: string,
  purpose: string,
): Promise<SqlSession> {
  const session = await ctx.databases.connect(source, { applicationName: `tidemark ${purpose}` });
  try {
    await session.query('SET row_security = off');
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await session.query(`SET TRANSACTION SNAPSHOT '${snapshotId.replace(/'/g, "''")}'`);
  } catch (err) {
    await session.close();
    const message = (err as Error).message;
    if (/invalid snapshot identifier|snapshot .* does not exist/i.test(message)) {
      throw new SnapshotExpiredError(
        `The backup's snapshot ${snapshotId} is no longer held by the source (${message}). ` +
          'The snapshot holder ended: the export ran past its window or the holder failed. ' +
          'Retry the backup; for exports longer than the window, raise --snapshot-hold-seconds (local) or use more workers.',
        { cause: err },
      );
    }
    throw err;
  }
  return session;
}
