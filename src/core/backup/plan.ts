// Step "Plan": inside the run's snapshot, capture the schema, size the tables, split them into
// export tasks, and store the plan in the repository. The output carries only batch indices.
import type { DatabaseRef } from '../ports/database.ts';
import { unitsPerTable, type TaskContext } from '../task-context.ts';
import type { SnapshotPoint } from './hold-snapshot.ts';
import type { ExportTask, PlanHeader } from './plan-model.ts';
import { captureSchema } from '../schema/capture.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { planHeaderKind, planTasksKind } from '../repository/document-formats.ts';
import { openSnapshotSession } from './snapshot-session.ts';
import { packBatches, splitIntoRanges } from './ranges.ts';
import { readTableFacts } from './table-facts.ts';
import { checkReadAccess } from './read-access.ts';
import { refuseNonUtf8Text } from './encoding-check.ts';
import { largeObjectsFingerprint } from '../schema/large-objects.ts';
import { parentTableFor, parentUsable } from './incremental-plan.ts';
import { qualifiedName } from '../sql.ts';
import { readTrustedParent, untrustedParentTables } from './parent-chunks.ts';

export const PLAN_FORMAT = planHeaderKind.format;
export const TASKS_FORMAT = planTasksKind.format;

export interface PlanOptions {
  /** Target heap bytes per export task. */
  rangeBytes: number;
  /** Target uncompressed bytes per chunk. */
  chunkBytes: number;
  /** Target heap bytes per batch (one task invocation). */
  batchBytes: number;
}

export const DEFAULT_PLAN_OPTIONS: PlanOptions = {
  rangeBytes: 64 * 1024 * 1024,
  chunkBytes: 4 * 1024 * 1024,
  batchBytes: 64 * 1024 * 1024,
};

export interface PlanInput {
  backupId: string;
  source: DatabaseRef;
  snapshot: SnapshotPoint;
  options?: Partial<PlanOptions>;
}

export interface PlanOutput {
  tables: number;
  tasks: number;
  /** Batch indices 0..n-1: the export Map's items. */
  batches: number[];
  warnings: number;
}

export async function planBackup(input: PlanInput, ctx: TaskContext): Promise<PlanOutput> {
  const options = { ...DEFAULT_PLAN_OPTIONS, ...input.options };
  const session = await openSnapshotSession(ctx, input.source, input.snapshot.snapshotId, 'plan');
  try {
    const [info] = await session.query<{
      version: string;
      num: number;
      db: string;
      block: number;
      sysid: string | null;
      timeline: string | null;
    }>(
      `SELECT pg_catalog.current_setting('server_version') AS version,
              pg_catalog.current_setting('server_version_num')::int AS num,
              pg_catalog.current_database() AS db,
              pg_catalog.current_setting('block_size')::int AS block,
              CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                   THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END AS sysid,
              CASE WHEN NOT pg_catalog.pg_is_in_recovery()
                   THEN pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END AS timeline`,
    );
    // Inside the imported snapshot, txid_current_snapshot() is the backup's snapshot itself.
    const [xids] = await session.query<{ xmin: string; xmax: string; snapshot: string }>(
      `SELECT pg_catalog.txid_snapshot_xmin(pg_catalog.txid_current_snapshot())::text AS xmin,
              pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS xmax,
              pg_catalog.txid_current_snapshot()::text AS snapshot`,
    );
    ctx.progress({ phase: 'schema' });
    const schema = await captureSchema((sql, params) => session.query(sql, params));
    await checkReadAccess((sql, params) => session.query(sql, params), schema.tables);
    await refuseNonUtf8Text((sql, params) => session.query(sql, params), schema.tables);
    // A table read through a filter (row-sources.ts) has no key index: it is read whole when it changed.
    // Large objects are kept from the parent while their fingerprint is the parent's.
    const objects = schema.tables.some((t) => t.source?.kind === 'large objects')
      ? await largeObjectsFingerprint((sql, params) => session.query(sql, params))
      : '';
    const facts = (await readTableFacts((sql, params) => session.query(sql, params), schema.tables)).map((f, i) => {
      const source = schema.tables[i]!.source;
      if (!source) return f;
      return { ...f, key: null, ...(source.kind === 'large objects' ? { identity: objects } : {}) };
    });
    const sizes = new Map(facts.map((f, i) => [i, f.bytes]));
    const record = await ctx.catalog.getBackup(input.backupId);
    const parent = record?.parent ? await readTrustedParent(ctx.storage, record.parent, schema.warnings) : undefined;
    const here = {
      snapshotXmax: xids!.xmax,
      systemIdentifier: info!.sysid ?? '',
      database: info!.db,
      serverVersion: info!.version,
      timeline: info!.timeline ?? undefined,
      lsn: input.snapshot.lsn,
    };
    const usable = parent && parentUsable(parent, here) ? parent : undefined;
    const changes: ExportTask[] = [];
    const whole: number[] = [];
    const untrusted = usable ? await untrustedParentTables(ctx.storage, usable) : new Map<string, string>();
    facts.forEach((f, table) => {
      const t = schema.tables[table]!;
      const base = parentTableFor(usable, t, f, f.format);
      const damage = base && untrusted.get(qualifiedName(t.schema, t.name));
      if (damage) schema.warnings.push(damage);
      if (base && !damage) changes.push({ table, range: 0, fromBlock: null, toBlock: null, kind: 'changes' });
      else whole.push(table);
    });
    const tasks = [
      ...changes,
      ...splitIntoRanges(
        whole.map((table) => ({ table, bytes: sizes.get(table)! })),
        { rangeBytes: options.rangeBytes, blockSize: info!.block, serverVersionNum: info!.num },
      ),
      // The next backup of the collection finds deleted rows by merging this key index with the
      // table's keys then.
      ...(record?.collection
        ? whole
            .filter((t) => facts[t]!.key)
            .map((table): ExportTask => ({ table, range: 0, fromBlock: null, toBlock: null, kind: 'keys' }))
        : []),
    ];
    // Heap sizes of the tables read whole: an estimate of the COPY bytes, for the progress bar.
    const bytes = whole.reduce((sum, t) => sum + sizes.get(t)!, 0);
    ctx.progress({
      phase: 'export',
      expected: {
        bytes,
        unitsPerTable: unitsPerTable(
          tasks.map((t) => qualifiedName(schema.tables[t.table]!.schema, schema.tables[t.table]!.name)),
        ),
      },
    });
    const batches = packBatches(tasks, sizes, {
      batchBytes: options.batchBytes,
      maxBatches: 1000,
      rangeBytes: options.rangeBytes,
    });
    const header: PlanHeader = {
      backupId: input.backupId,
      createdAt: new Date().toISOString(),
      source: {
        description: ctx.databases.describe(input.source),
        serverVersion: info!.version,
        serverVersionNum: info!.num,
        systemIdentifier: info!.sysid ?? '',
        database: info!.db,
        ...(info!.timeline ? { timeline: info!.timeline } : {}),
      },
      snapshot: { time: input.snapshot.time, lsn: input.snapshot.lsn, txidSnapshot: xids!.snapshot },
      schema,
      taskCount: tasks.length,
      batchCount: batches.length,
      chunkBytes: options.chunkBytes,
      formats: facts.map((f) => f.format),
      rowTypes: facts.map((f) => f.rowType),
      keys: facts.map((f) => f.key),
      identities: facts.map((f) => f.identity),
      ...(usable ? { parent: { backupId: usable.backupId, xmin: usable.snapshot.xmin! } } : {}),
      ...(record?.collection ? { collection: record.collection } : {}),
      snapshotXmin: xids!.xmin,
    };
    // Batches first, header last: a header's presence means the whole plan is there.
    await Promise.all(
      batches.map((batch, i) => writeDocument(ctx.storage, planTasksKind, { runId: input.backupId, batch: i }, batch)),
    );
    await writeDocument(ctx.storage, planHeaderKind, { runId: input.backupId }, header);
    await session.query('COMMIT');
    return {
      tables: schema.tables.length,
      tasks: tasks.length,
      batches: batches.map((_, i) => i),
      warnings: schema.warnings.length,
    };
  } finally {
    await session.close();
  }
}

export async function readPlanHeader(ctx: TaskContext, backupId: string): Promise<PlanHeader> {
  return readDocument(ctx.storage, planHeaderKind, { runId: backupId });
}

export async function readPlanBatch(ctx: TaskContext, backupId: string, batch: number): Promise<ExportTask[]> {
  return readDocument(ctx.storage, planTasksKind, { runId: backupId, batch });
}
