// `pitr enable` and `pitr disable`: what Tidemark creates in the source, and the chain's opening
// segment (FORMAT.md, "Point-in-time recovery"). Enable changes nothing unless the preflight
// passes; the DDL capture comes before the slot, so no DDL after the chain's start goes unrecorded.
import type { SqlSession } from '../ports/database.ts';
import type { ChangeStream } from '../ports/change-stream.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { quoteIdent, quoteLiteral } from '../sql.ts';
import { TidemarkError } from '../errors.ts';
import { DDL_END_PREFIX, DDL_MESSAGE_PREFIX, pitrNames } from './names.ts';
import { preflight } from './preflight.ts';
import { refuseYugabyte } from './yugabyte.ts';
import { chainId } from './chain.ts';
import { sealSegment, writeSegment, type ChainGap, type SegmentSource } from './segment.ts';

/** The source is not ready for an exact change archive; the message lists every fix. */
export class PitrPreflightError extends TidemarkError {
  override readonly exitCode = 2;
}

export interface EnableResult {
  slot: string;
  chain: string;
  startLsn: string;
  warnings: string[];
  /** Tables set to REPLICA IDENTITY FULL (--replica-identity-full). */
  replicaIdentityFull: string[];
}

export interface EnableOptions {
  /** Sets REPLICA IDENTITY FULL on exactly the tables that have no key to replay by, instead of refusing them. */
  replicaIdentityFull?: boolean;
}

export async function enablePitr(
  session: SqlSession,
  stream: ChangeStream,
  storage: RepositoryStorage,
  collection: string,
  options: EnableOptions = {},
): Promise<EnableResult> {
  const names = pitrNames(collection);
  await refuseYugabyte(session, collection);
  const check = await preflight(session, names);
  const blocking = options.replicaIdentityFull ? check.problems.filter((p) => !p.table) : check.problems;
  if (blocking.length) {
    const hint =
      !options.replicaIdentityFull && check.problems.some((p) => p.table)
        ? '\n(--replica-identity-full sets REPLICA IDENTITY FULL on those tables.)'
        : '';
    throw new PitrPreflightError(
      `Point-in-time recovery cannot be enabled for collection ${collection}; nothing was changed. Fix:\n` +
        blocking.map((p) => `  - ${p.what}: ${p.fix}`).join('\n') +
        hint,
    );
  }
  const identityFull = check.problems.flatMap((p) => (p.table ? [p.table] : []));
  if (identityFull.length) {
    // ALTER TABLE takes an exclusive lock: give up rather than queue the source's own statements behind it.
    await session.query("SELECT pg_catalog.set_config('lock_timeout', '5s', false)");
    for (const table of identityFull) await session.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
    await session.query("SELECT pg_catalog.set_config('lock_timeout', '0', false)");
  }
  const { chain, startLsn } = await startChain(session, stream, storage, collection);
  return { slot: names.slot, chain, startLsn, warnings: check.warnings, replicaIdentityFull: identityFull };
}

/**
 * Starts a chain: the DDL capture (again, in case it went with the slot), a new slot, and the
 * chain's opening segment, which records the source's WAL timeline and the gap before the chain
 * when there is one. The base backup that a restore into the chain needs is the caller's: its
 * runtime runs the backup state machine.
 */
export async function startChain(
  session: SqlSession,
  stream: ChangeStream,
  storage: RepositoryStorage,
  collection: string,
  gap?: ChainGap,
): Promise<{ slot: string; chain: string; startLsn: string }> {
  const names = pitrNames(collection);
  const source = await sourceIdentity(session);
  await installDdlCapture(session, names.ddlCapture);
  const { lsn } = await stream.createSlot(names.slot);
  // The server's clock once the slot exists: a backup whose snapshot is later has every
  // transaction it does not see in this chain (restore-to-point.ts).
  const [created] = await session.query<{ at: Date }>('SELECT pg_catalog.clock_timestamp() AS at');
  // The timeline the chain is archived on: the archiver continues it only on that one.
  const timeline = (await stream.slotState(names.slot))?.source.timeline;
  const chain = chainId(lsn);
  const opening = await sealSegment(
    {
      collection,
      chain,
      afterLsn: lsn,
      part: 0,
      slot: names.slot,
      source: timeline ? { ...source, timeline } : source,
      endLsn: lsn,
      openAtEnd: false,
      transactions: 0,
      changes: 0,
      sealedAt: new Date(created!.at).toISOString(),
      ...(gap ? { gap } : {}),
    },
    [],
  );
  await writeSegment(storage, opening);
  return { slot: names.slot, chain, startLsn: lsn };
}

/** Drops the slot, the event trigger and its function; what was there is named. */
export async function disablePitr(
  session: SqlSession,
  stream: ChangeStream,
  collection: string,
): Promise<{ dropped: string[] }> {
  const names = pitrNames(collection);
  const dropped: string[] = [];
  const [objects] = await session.query<{ trigger: boolean; fn: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = $1) AS trigger,
            pg_catalog.to_regprocedure($2) IS NOT NULL AS fn`,
    [names.ddlCapture, `public.${quoteIdent(names.ddlCapture)}()`],
  );
  if (objects!.trigger) {
    await session.query(`DROP EVENT TRIGGER ${quoteIdent(names.ddlCapture)}`);
    dropped.push(`event trigger ${names.ddlCapture}`);
  }
  if (objects!.fn) {
    await session.query(`DROP FUNCTION public.${quoteIdent(names.ddlCapture)}()`);
    dropped.push(`function public.${names.ddlCapture}()`);
  }
  if (await stream.dropSlot(names.slot)) dropped.push(`replication slot ${names.slot}`);
  return { dropped };
}

export async function sourceIdentity(session: SqlSession): Promise<SegmentSource> {
  const [row] = await session.query<{ sysid: string | null; db: string; num: number }>(
    `SELECT CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                 THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END AS sysid,
            pg_catalog.current_database() AS db, pg_catalog.current_setting('server_version_num')::int AS num`,
  );
  return { systemIdentifier: row!.sysid ?? '', database: row!.db, serverVersionNum: row!.num };
}

/**
 * The event trigger writes each DDL command into the change stream, in its own transaction.
 * It must never make the user's DDL fail (invariant 12): it runs as its owner (SECURITY
 * DEFINER, so the user needs no right to emit messages; no fixed search_path, since it records the
 * caller's, so every name in it is qualified) and turns its own errors into warnings.
 * The EXCEPTION block makes the message a subtransaction's, and decoding files a message at its
 * record's end LSN, where the next change (the statement's first row) starts: merged with the
 * parent transaction's changes, the two tie and the row may come out first. The second,
 * non-transactional message (the decoder skips it) puts a record between them.
 */
export async function installDdlCapture(session: SqlSession, name: string): Promise<void> {
  const fn = `public.${quoteIdent(name)}`;
  await session.query(`CREATE OR REPLACE FUNCTION ${fn}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER AS $tidemark$
DECLARE
  objects pg_catalog.jsonb;
BEGIN
  SELECT COALESCE(pg_catalog.jsonb_agg(object_identity), '[]') INTO objects FROM pg_catalog.pg_event_trigger_ddl_commands();
  PERFORM pg_catalog.pg_logical_emit_message(true, ${quoteLiteral(DDL_MESSAGE_PREFIX)}, pg_catalog.jsonb_build_object(
    'query', pg_catalog.current_query(), 'searchPath', pg_catalog.current_setting('search_path'), 'tag', tg_tag, 'objects', objects)::text);
  PERFORM pg_catalog.pg_logical_emit_message(false, ${quoteLiteral(DDL_END_PREFIX)}, '');
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'Tidemark could not record this DDL command in the change archive (%): a point-in-time restore past it will fail', SQLERRM;
END
$tidemark$`);
  await session.query(`DROP EVENT TRIGGER IF EXISTS ${quoteIdent(name)}`);
  await session.query(`CREATE EVENT TRIGGER ${quoteIdent(name)} ON ddl_command_end EXECUTE FUNCTION ${fn}()`);
}
