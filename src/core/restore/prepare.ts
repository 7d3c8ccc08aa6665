// Step "Prepare": create the target database when missing, refuse one that holds anything,
// then the progress tables, then the pre-data schema in transactions of bounded size
// (pre-data.ts), each recorded in the progress tables, so a retry finishes what is missing.
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { DatabaseMissingError, RestoreTargetError } from '../errors.ts';
import { readManifest, type Manifest } from '../repository/manifest.ts';
import { expectedLoad } from './load-plan.ts';
import { targetRoles } from '../schema/apply.ts';
import { applyPreData } from './pre-data.ts';
import { withTablespaceMap } from '../schema/tablespaces.ts';
import { quoteIdent, serverVersion } from '../sql.ts';
import { PROGRESS_SCHEMA, createProgressTables, progressOwner } from './progress-table.ts';

export interface PrepareInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  /** A failed restore this one carries on with: its progress tables are taken over. */
  resumes?: string | null;
  /** `--tablespace-map`: where the objects of a source tablespace go (Resolve checked it). */
  tablespaceMap?: Record<string, string>;
}

export async function prepareTarget(
  input: PrepareInput,
  ctx: TaskContext,
): Promise<{ created: boolean; preDataStatements: number }> {
  const where = ctx.databases.describe(input.target);
  const manifest = await readManifest(ctx.storage, input.backupId);
  const { session, created } = await openOrCreate(input.target, ctx, (s) =>
    refuseOlderServer(s, manifest, input.backupId, where),
  );
  try {
    const owner = await progressOwner(session);
    // Pre-data commits in batches (pre-data.ts): a retry, or a resumed restore, finishes it.
    const finishPreData = async () =>
      applyPreData(
        session,
        withTablespaceMap(manifest.schema.preData, input.tablespaceMap),
        await targetRoles((sql, params) => session.query(sql, params), manifest.schema.preData),
      );
    if (owner === input.restoreId) {
      await finishPreData();
      return { created, preDataStatements: manifest.schema.preData.length };
    }
    if (owner !== undefined && owner === input.resumes) {
      // Its pre-data and every chunk it loaded committed with their progress rows: keep them.
      await session.query(`UPDATE ${PROGRESS_SCHEMA}.restore SET restore_id = $1 WHERE restore_id = $2`, [
        input.restoreId,
        owner,
      ]);
      await finishPreData();
      return { created, preDataStatements: manifest.schema.preData.length };
    }
    if (owner !== undefined) {
      throw new RestoreTargetError(
        `Target ${where} holds an unfinished restore ${owner}. Resume it (tidemark restore --resume ${owner}, or "resume": "${owner}" in the execution input), drop the database, or restore into another one.`,
      );
    }
    const contents = await describeContents(session);
    if (contents.length > 0) {
      throw new RestoreTargetError(
        `Target ${where} is not empty (it has ${contents.join(', ')}). Tidemark restores only into a new or empty database: pick another name, or drop this one.`,
      );
    }
    await session.query('BEGIN');
    try {
      await createProgressTables(session, input.restoreId);
      await session.query(`UPDATE ${PROGRESS_SCHEMA}.restore SET backup_id = $1`, [input.backupId]);
      await session.query('COMMIT');
    } catch (err) {
      await session.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    await finishPreData();
  } finally {
    await session.close();
  }
  ctx.progress({ phase: 'load', expected: expectedLoad(manifest) });
  return { created, preDataStatements: manifest.schema.preData.length };
}

/** Opens the target, creating it when missing; `check` runs on the server first (before any CREATE DATABASE). */
async function openOrCreate(
  target: DatabaseRef,
  ctx: TaskContext,
  check: (session: SqlSession) => Promise<void>,
): Promise<{ session: SqlSession; created: boolean }> {
  let existing: SqlSession;
  try {
    existing = await ctx.databases.connect(target, { applicationName: 'tidemark restore' });
  } catch (err) {
    if (!(err instanceof DatabaseMissingError) || !err.database) throw err;
    const admin = await ctx.databases.connect(
      { ...target, database: 'postgres' },
      { applicationName: 'tidemark restore' },
    );
    try {
      await check(admin);
      // template0 + UTF8: a clean database whatever template1 holds on this server.
      await admin.query(`CREATE DATABASE ${quoteIdent(err.database)} TEMPLATE template0 ENCODING 'UTF8'`);
    } catch (createErr) {
      // A concurrent retry may have created it first.
      if ((createErr as { code?: string }).code !== '42P04') {
        throw new RestoreTargetError(
          `Cannot create target database "${err.database}" at ${ctx.databases.describe(target)}: ${(createErr as Error).message}. Create it yourself (empty), or grant CREATEDB.`,
          { cause: createErr },
        );
      }
    } finally {
      await admin.close();
    }
    return { session: await ctx.databases.connect(target, { applicationName: 'tidemark restore' }), created: true };
  }
  try {
    await check(existing);
  } catch (err) {
    await existing.close();
    throw err;
  }
  return { session: existing, created: false };
}

/**
 * A backup restores into its own major or a newer one (DESIGN.md invariant 9). An older server
 * may lack what the schema uses (NULLS NOT DISTINCT, newer syntax) and would fail halfway.
 */
async function refuseOlderServer(
  session: SqlSession,
  manifest: Manifest,
  backupId: string,
  where: string,
): Promise<void> {
  const server = await serverVersion((sql) => session.query(sql));
  const target = server.major;
  const source = Math.floor(manifest.source.serverVersionNum / 10000);
  // YugabyteDB reports the PostgreSQL release its YSQL layer derives from (11.2 for years), not
  // what it accepts; there the restore itself tells.
  if (target < source && !server.yugabyte) {
    throw new RestoreTargetError(
      `Backup ${backupId} is of PostgreSQL ${manifest.source.serverVersion}; target ${where} runs ${server.text}, an older major. ` +
        `Tidemark restores into PostgreSQL ${source} or newer: pick a target server of that version.`,
    );
  }
}

/** What a database holds beyond a fresh CREATE DATABASE: user schemas, relations, functions, types, extensions. */
async function describeContents(session: SqlSession): Promise<string[]> {
  const [row] = await session.query<{
    relations: number;
    functions: number;
    types: number;
    schemas: number;
    extensions: number;
    defaultAcls: number;
  }>(
    `SELECT
       (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%')::int AS relations,
       (SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))::int AS functions,
       (SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%')::int AS types,
       (SELECT count(*) FROM pg_catalog.pg_namespace n
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND n.nspname NOT LIKE 'pg\\_%')::int AS schemas,
       (SELECT count(*) FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql')::int AS extensions,
       -- ALTER DEFAULT PRIVILEGES would grant on every restored object what the source never granted.
       (SELECT count(*) FROM pg_catalog.pg_default_acl)::int AS "defaultAcls"`,
  );
  const parts: string[] = [];
  const add = (n: number, what: string) => n > 0 && parts.push(`${n} ${what}`);
  add(row!.relations, 'tables, views, sequences or indexes');
  add(row!.functions, 'functions');
  add(row!.types, 'types');
  add(row!.schemas, 'schemas besides public');
  add(row!.extensions, 'extensions besides plpgsql');
  add(row!.defaultAcls, 'default privileges (ALTER DEFAULT PRIVILEGES)');
  return parts;
}
