// Step "ReplayChanges" of a point-in-time restore: replays the archived transactions the
// backup's snapshot does not see, in commit order, up to the plan's point (the replay rule of
// pitr/replay.ts, with its building blocks), for at most the plan's time budget per invocation.
// The ASL calls it again until it says `done`, so a replay of any length fits in Lambdas of
// 15 minutes.
//
// Progress lives in the target, like every restore step's (progress-table.ts): each group of
// transactions commits together with the commit position it reached, so an invocation that dies
// leaves the target at a whole group and its progress agreeing, and the next one (a retry or the
// next in the chain) carries on after that position: no transaction is applied twice. The last
// group commits with the verification and `done`, so a finished replay is finished once.
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
import { pitrNames } from '../pitr/names.ts';
import { TxidSnapshot } from '../pitr/target.ts';
import type { CommitPoint } from '../pitr/segment.ts';
import { PROGRESS_SCHEMA, progressOwner } from './progress-table.ts';
import type { ReplayPlan } from './replay-plan.ts';

/** As pitr/replay.ts: several archived transactions to a target transaction, and one progress write. */
const GROUP_CHANGES = 20_000;

export interface ReplayInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  replay: ReplayPlan;
}

export interface ReplayProgress {
  /** The point is reached and the replay verified: the ASL goes on to Complete. */
  done: boolean;
  /** The last archived commit replayed through (once done: the plan's point); null before any. */
  reached: CommitPoint | null;
  transactions: number;
  changes: number;
  /** Archived transactions the backup already held. */
  skipped: number;
  countedTables: number;
  checksummedTables: number;
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
    const progress = await readProgress(session, plan);
    if (progress.done) return progress;
    const manifest = await cachedManifest(ctx.storage, input.backupId);
    return await replayFrom(ctx, session, plan, manifest, progress, deadline);
  } finally {
    await session.close();
  }
}

async function replayFrom(
  ctx: TaskContext,
  session: SqlSession,
  plan: ReplayPlan,
  manifest: Manifest,
  progress: ReplayProgress,
  deadline: number,
): Promise<ReplayProgress> {
  const places = (await listChains(ctx.storage, plan.collection)).get(plan.chain)?.slice(0, plan.segments) ?? [];
  if (places.length !== plan.segments)
    throw new IntegrityError(
      `Chain ${plan.collection}/${plan.chain} holds ${places.length} segments where Resolve found ${plan.segments}: segments were removed from the repository during the restore. Restore again.`,
    );
  const snapshot = new TxidSnapshot(manifest.snapshot.txidSnapshot!);
  const replica = await withoutTriggers(session);
  await session.query(
    "SELECT pg_catalog.set_config('enable_hashjoin', 'off', false), pg_catalog.set_config('enable_mergejoin', 'off', false)",
  );
  // The first invocation counts from the backup (verified before replay); a later one from the
  // target as the one before left it, having checked every table it changed. Content checksums
  // need the whole replay's sums: only an invocation that starts from the backup keeps them.
  const resumed = progress.reached !== null;
  const counts = await ReplayRowCounts.start(session, resumed ? await withCurrentCounts(session, manifest) : manifest);
  const checksums = new ReplayChecksums(resumed ? { ...manifest, tables: [] } : manifest);
  const applier = new ChangeApplier(session, counts, replica);
  const through = plan.point;
  let open = false;
  let sinceCommit = 0;
  const commit = async (done = false) => {
    await applier.flush();
    await writeProgress(session, { ...progress, done }, plan.point);
    await session.query('COMMIT');
    open = false;
    sinceCommit = 0;
  };
  /** Until the cursor's commit: what earlier invocations applied (or skipped). */
  let passing = resumed;
  let xid: string | undefined;
  let applying = false;
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
          applier.beginTransaction();
        } else progress.skipped++;
      } else if (record.k === 'C') {
        progress.reached = { xid: record.xid, lsn: record.lsn, time: record.time };
        if (record.lsn === through.lsn) doneInSegment = segment;
        if (applying) {
          await counts.resolve(xid!, false);
          progress.transactions++;
          // The point's group commits below, with the verification.
          if (doneInSegment === undefined && (sinceCommit >= GROUP_CHANGES || Date.now() >= deadline)) {
            await commit();
            if (Date.now() >= deadline) {
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
        }
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
    progress.countedTables += await counts.verify();
    progress.checksummedTables += await checksums.verify(session);
    await raiseOwnedSequences(session);
    // Backups taken before schema capture skipped it carry the DDL capture's function: Tidemark's.
    await session.query(`DROP FUNCTION IF EXISTS public.${quoteIdent(pitrNames(plan.collection).ddlCapture)}()`);
    progress.reached = through;
    await commit(true);
    return { ...progress, done: true };
  } catch (err) {
    if (open) await session.query('ROLLBACK').catch(() => {});
    throw err;
  }
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

const PROGRESS_TABLE = `${PROGRESS_SCHEMA}.replay`;

/** Where the replay of this target got to, toward the point it was started for (never past another). */
async function readProgress(session: SqlSession, plan: ReplayPlan): Promise<ReplayProgress> {
  await session.query(
    `CREATE TABLE IF NOT EXISTS ${PROGRESS_TABLE} (one boolean PRIMARY KEY CHECK (one), progress jsonb NOT NULL, toward jsonb NOT NULL)`,
  );
  const [row] = await session.query<{ progress: ReplayProgress; toward: CommitPoint }>(
    `SELECT progress, toward FROM ${PROGRESS_TABLE}`,
  );
  if (row && row.toward.lsn !== plan.point.lsn)
    throw new RestoreTargetError(
      `This target's replay goes to the commit of xid ${row.toward.xid} (lsn:${row.toward.lsn}, ${row.toward.time}) and has reached ${row.progress.reached ? `lsn:${row.progress.reached.lsn}` : 'no commit yet'}; "${plan.to}" is the commit of xid ${plan.point.xid} (lsn:${plan.point.lsn}). ` +
        'Restore to this point into a new database.',
    );
  return (
    row?.progress ?? {
      done: false,
      reached: null,
      transactions: 0,
      changes: 0,
      skipped: 0,
      countedTables: 0,
      checksummedTables: 0,
    }
  );
}

/** In the transaction of the changes it records. */
async function writeProgress(session: SqlSession, progress: ReplayProgress, toward: CommitPoint): Promise<void> {
  await session.query(
    `INSERT INTO ${PROGRESS_TABLE} VALUES (true, $1::jsonb, $2::jsonb) ON CONFLICT (one) DO UPDATE SET progress = EXCLUDED.progress`,
    [JSON.stringify(progress), JSON.stringify(toward)],
  );
}
