// Step "ExportBatch": run each task of the batch inside the run's snapshot — a range of rows
// (copy-export.ts), a table's changes or key index (export-changes.ts) — and record the result. Idempotent:
// a batch whose result exists returns it; chunks are content-addressed, so a rerun after a crash
// rewrites nothing that is already there.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { ExportBatchResult, ExportTaskResult } from './plan-model.ts';
import { layout } from '../repository/layout.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { exportResultKind } from '../repository/document-formats.ts';
import { openSnapshotSession } from './snapshot-session.ts';
import { readPlanBatch, readPlanHeader } from './plan.ts';
import { qualifiedName } from '../sql.ts';
import { exportChanges, exportKeyIndex } from './export-changes.ts';
import { copyOutSql, exportCopy } from './copy-export.ts';

export const RESULT_FORMAT = exportResultKind.format;

export interface ExportBatchInput {
  backupId: string;
  source: DatabaseRef;
  snapshotId: string;
  batch: number;
}

export interface ExportBatchOutput {
  batch: number;
  rows: number;
  chunks: number;
}

export async function exportBatch(input: ExportBatchInput, ctx: TaskContext): Promise<ExportBatchOutput> {
  const place = { runId: input.backupId, batch: input.batch };
  if (await ctx.storage.head(layout.exportResult(input.backupId, input.batch))) {
    return summarize(await readDocument(ctx.storage, exportResultKind, place));
  }
  const header = await readPlanHeader(ctx, input.backupId);
  const tasks = await readPlanBatch(ctx, input.backupId, input.batch);
  const session = await openSnapshotSession(ctx, input.source, input.snapshotId, `export batch ${input.batch}`);
  const results: ExportTaskResult[] = [];
  try {
    for (const task of tasks) {
      const format = header.formats[task.table]!;
      const table = header.schema.tables[task.table]!;
      if (task.kind === 'changes') results.push(await exportChanges(session, header, task, ctx));
      else if (task.kind === 'keys') results.push(await exportKeyIndex(session, header, task, ctx));
      else
        results.push({
          table: task.table,
          range: task.range,
          ...(await exportCopy(
            session,
            copyOutSql(table, task, format),
            qualifiedName(table.schema, table.name),
            format,
            header.chunkBytes,
            ctx,
          )),
        });
      ctx.progress({
        phase: 'export',
        table: qualifiedName(table.schema, table.name),
        unitDone: `${task.kind ?? 'rows'}:${task.range}`,
      });
    }
    await session.query('COMMIT');
  } finally {
    await session.close();
  }
  const result: ExportBatchResult = { batch: input.batch, tasks: results };
  await writeDocument(ctx.storage, exportResultKind, place, result);
  return summarize(result);
}

function summarize(result: ExportBatchResult): ExportBatchOutput {
  return {
    batch: result.batch,
    rows: result.tasks.reduce((s, t) => s + t.rows, 0),
    chunks: result.tasks.reduce((s, t) => s + t.chunks.length, 0),
  };
}
