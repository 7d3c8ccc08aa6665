// Step "ReplayChanges" of a point-in-time restore, and the one replay loop (`replay`): applies,
// in commit order, exactly the archived transactions the backup's snapshot does not see, each
// whole, up to and including the plan's point (FORMAT.md, "Point-in-time recovery", "Replay
// rule"; the building blocks are in pitr/), for at most the plan's time budget per invocation.
// The ASL calls it again until it says `done`, so a replay of any length fits in Lambdas of
// 15 minutes; the local CLI runs the same ASL.
//
// Progress lives in the target, like every restore step's (replay-progress.ts): each group of
// transactions commits together with the commit position it reached and the state of its checks,
// so an invocation that dies leaves the target at a whole group and its progress agreeing, and the
// next one (a retry, the next in the chain, or a resumed restore) carries on after that position:
// no transaction is applied twice. The last group commits with the verification and `done`, so a
// finished replay is finished once.
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { Manifest } from '../repository/manifest.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { IntegrityError, RestoreTargetError } from '../errors.ts';
import { quoteIdent } from '../sql.ts';
import { listChains } from '../pitr/chain.ts';
import { chainRecords, withoutTriggers } from '../pitr/replay.ts';
import { ChangeApplier } from '../pitr/apply-change.ts';
import { ReplayRowCounts } from '../pitr/replay-counts.ts';
import { ReplayChecksums } from '../pitr/replay-checksums.ts';
import { raiseOwnedSequences } from '../pitr/sequences.ts';
import { undecodedWarnings } from '../pitr/undecoded.ts';
import { pitrNames } from '../pitr/names.ts';
import { TxidSnapshot } from '../pitr/target.ts';
import { addWarnings, progressOwner } from './progress-table.ts';
import { readProgress, writeProgress, type ReplayChecks, type ReplayProgress } from './replay-progress.ts';
import type { ReplayPlan } from './replay-plan.ts';

export type { ReplayProgress } from './replay-progress.ts';

/**
 * Archived transactions replay whole, in commit order, several to a target transaction: nobody
 * else uses the target before the restore completes, the state after each group is the source's
 * state after its last transaction, and one progress write per group. Fewer commits, and batches
 * (row-batches.ts) that span small transactions.
 */
const GROUP_CHANGES = 20_000;

export interface ReplayInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  replay: ReplayPlan;
}

export async function replayChanges(input: ReplayInput, ctx: TaskContext): Promise<ReplayProgress> {
  const plan = input.replay;
  const deadline = Date.now() + plan.budgetSeconds * 1000;
  const session = await ctx.databases.connect(input.target, { applicationName: 'tidemark replay' });
  try {
    const owner = await progressOwner(session);
    if (owner !== input.restoreId)
      throw new RestoreTargetError(
        `The target database holds ${owner ? `restore ${owner}'s` : 'no'} progress tables, not restore ${input.restoreId}'s: ReplayChanges runs only between Prepare and Complete of its own restore. Start a new restore into an empty database.`,
      );
    // One replayer at a time: an invocation Step Functions retried while the first still runs
    // (a lost response) waits here until that one's session ends, then reads where it got to.
    await session.query("SELECT pg_catalog.pg_advisory_lock(pg_catalog.hashtext('tidemark replay'))");
    const { progress, checks } = await readProgress(session, plan);
    if (progress.done) return progress;
    const manifest = await cachedManifest(ctx.storage, input.backupId);
    return await replay(ctx, session, {
      plan,
      manifest,
      progress,
      checks,
      deadline,
      save: (p, c) => writeProgress(session, p, c, plan.point),
    });
  } finally {
    await session.close();
  }
}

export interface ReplayRun {
  plan: ReplayPlan;
  /** The restored backup's: its snapshot says which transactions to skip, its tables what to count from. */
  manifest: Manifest;
  /** Where earlier invocations got to (NO_PROGRESS for the first). */
  progress: ReplayProgress;
  /** Their checks as they left them; absent: from the backup (or, past the first commit, see below). */
  checks?: ReplayChecks;
  /** When to hand on, at the next group's commit (Infinity: at the point). */
  deadline: number;
  /** Called in the transaction of each group, the last with `done`. */
  save(progress: ReplayProgress, checks: ReplayChecks): Promise<void>;
}

/** The replay loop: from `run.progress` toward `run.plan.point`, group by group, until the point or the deadline. */
export async function replay(ctx: TaskContext, session: SqlSession, run: ReplayRun): Promise<ReplayProgress> {
  const { plan, manifest } = run;
  const progress = { ...run.progress };
  const places = (await listChains(ctx.storage, plan.collection)).get(plan.chain)?.slice(0, plan.segments) ?? [];
  if (places.length !== plan.segments)
    throw new IntegrityError(
      `Chain ${plan.collection}/${plan.chain} holds ${places.length} segments where Resolve found ${plan.segments}: segments were removed from the repository during the restore. Restore again.`,
    );
  const snapshot = new TxidSnapshot(manifest.snapshot.txidSnapshot!);
  const replica = await withoutTriggers(session);
  // Safe without waiting for each commit's WAL flush: a group and its progress commit together,
  // so a crash loses both and the next invocation replays the group again (as load.ts).
  await session.query("SELECT pg_catalog.set_config('synchronous_commit', 'off', false)");
  // A batched UPDATE/DELETE finds each of its rows by key: index lookups, never a scan of the
  // table per batch, which a hash or merge join of the VALUES list would make.
  await session.query(
    "SELECT pg_catalog.set_config('enable_hashjoin', 'off', false), pg_catalog.set_config('enable_mergejoin', 'off', false)",
  );
  const resumed = progress.reached !== null;
  const { counts, checksums } = await startChecks(session, manifest, resumed ? run.checks : undefined, resumed);
  const applier = new ChangeApplier(session, counts, replica, (message) => addWarnings(session, [message]));
  const through = plan.point;
  let open = false;
  let sinceCommit = 0;
  const commit = async (done = false) => {
    await applier.flush();
    await run.save({ ...progress, done }, { counts: counts.state(), checksums: checksums.state() });
    await session.query('COMMIT');
    open = false;
    sinceCommit = 0;
  };
  /** Until the cursor's commit: what earlier invocations applied (or skipped). */
  let passing = resumed;
  let xid: string | undefined;
  let applying = false;
  /** The transaction being applied ran DDL: its group commits with it (see below). */
  let ddl = false;
  let doneInSegment: number | undefined;
  let out = false;
  try {
    for await (const { record, segment } of chainRecords(ctx.storage, places)) {
      if (passing) {
        if (record.k === 'C' && record.lsn === progress.reached!.lsn) passing = false;
        if (record.k === 'C' && record.lsn === through.lsn) doneInSegment = segment;
        continue;
      }
      if (doneInSegment !== undefined) {
        // Past the target: the backup must not hold a transaction that commits after it.
        if (segment !== doneInSegment) break;
        if (record.k === 'B' && snapshot.sees(record.xid))
          throw new RestoreTargetError(
            `The backup's snapshot already holds transaction ${record.xid}, which commits after the target (${through.time}, lsn:${through.lsn}): it cannot be restored to exactly that point. Choose a target after ${record.xid} commits, or one before the backup.`,
          );
        continue;
      }
      if (record.k === 'B') {
        xid = record.xid;
        applying = !snapshot.sees(xid);
        if (applying) {
          if (!open) await session.query('BEGIN');
          open = true;
          ddl = false;
          applier.beginTransaction();
        } else progress.skipped++;
      } else if (record.k === 'C') {
        progress.reached = { xid: record.xid, lsn: record.lsn, time: record.time };
        if (record.lsn === through.lsn) doneInSegment = segment;
        if (applying) {
          await counts.resolve(xid!, false);
          progress.transactions++;
          // The point's group commits below, with the verification. A transaction that ran DDL
          // ends its group: what it did may be unusable until it commits, as at the source (an
          // enum value ALTER TYPE … ADD VALUE added cannot be used in that transaction).
          if (doneInSegment === undefined && (ddl || sinceCommit >= GROUP_CHANGES || Date.now() >= run.deadline)) {
            await commit();
            if (Date.now() >= run.deadline) {
              out = true;
              break;
            }
          }
        }
        applying = false;
      } else if (applying) {
        await applier.apply(record, xid!);
        const whole = record.k === 'U' || record.k === 'D' ? await applier.wholeOldRows(record.rel) : false;
        checksums.observe(record, xid!, () => whole);
        if (record.k !== 'M') {
          progress.changes++;
          sinceCommit++;
        } else ddl = true;
      }
    }
    if (passing)
      throw new IntegrityError(
        `Restore progress says the replay reached lsn:${progress.reached!.lsn}, which chain ${plan.collection}/${plan.chain} does not hold: the target was changed outside this restore. Restore again into an empty database.`,
      );
    if (out) return { ...progress, done: false };
    if (doneInSegment === undefined)
      throw new IntegrityError(
        `Chain ${plan.collection}/${plan.chain} ended before the commit of xid ${through.xid} (lsn:${through.lsn}) that Resolve found in it. Restore again.`,
      );
    // The last group, its checks and `done` commit together.
    if (!open) await session.query('BEGIN');
    open = true;
    await applier.flush();
    progress.countedTables = await counts.verify();
    progress.checksummedTables = await checksums.verify(session);
    await raiseOwnedSequences(session);
    await addWarnings(
      session,
      await undecodedWarnings(session, { backupId: manifest.backupId, time: manifest.snapshot.time }),
    );
    // Backups taken before schema capture skipped it carry the DDL capture's function: Tidemark's.
    await session.query(`DROP FUNCTION IF EXISTS public.${quoteIdent(pitrNames(plan.collection).ddlCapture)}()`);
    progress.reached = through;
    // `done` is final (Complete goes on from it): flushed before it is returned.
    await session.query("SELECT pg_catalog.set_config('synchronous_commit', 'on', true)");
    await commit(true);
    return { ...progress, done: true };
  } catch (err) {
    if (open) await session.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * The checks as the last commit left them, so a replay in several invocations (or resumed)
 * checks every table it changed, from the backup on, as one run does. Progress written before
 * they were kept has none: the counts then start from the target as it is, and checksums stop.
 */
async function startChecks(
  session: SqlSession,
  manifest: Manifest,
  checks: ReplayChecks | undefined,
  resumed: boolean,
) {
  if (checks)
    return {
      counts: ReplayRowCounts.resume(session, checks.counts),
      checksums: ReplayChecksums.resume(manifest, checks.checksums),
    };
  return {
    counts: await ReplayRowCounts.start(session, resumed ? await withCurrentCounts(session, manifest) : manifest),
    checksums: new ReplayChecksums(resumed ? { ...manifest, tables: [] } : manifest),
  };
}

/** The manifest with each table's rows as the target holds them now (a later invocation's start). */
async function withCurrentCounts(session: SqlSession, manifest: Manifest): Promise<Manifest> {
  const tables = [];
  for (const t of manifest.tables) {
    const name = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    // A table a replayed DDL dropped or renamed is not counted (ReplayRowCounts goes by name here).
    const [exists] = await session.query<{ ok: boolean }>('SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok', [
      name,
    ]);
    if (!exists?.ok) continue;
    const [row] = await session.query<{ n: string }>(`SELECT pg_catalog.count(*)::text AS n FROM ONLY ${name}`);
    tables.push({ ...t, rows: Number(row!.n), layers: undefined });
  }
  return { ...manifest, tables };
}
