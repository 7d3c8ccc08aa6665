// Step "ExportBatch": read each task's range with COPY inside the run's snapshot, cut it into
// chunks, compress, hash, write the chunks that are absent, and record the result. Idempotent:
// a batch whose result exists returns it; chunks are content-addressed, so a rerun after a crash
// rewrites nothing that is already there.
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { SchemaSnapshot, TableData } from '../schema/model.ts';
import type { ChunkRef, ExportBatchResult, ExportTask, ExportTaskResult } from './plan-model.ts';
import { layout } from '../repository/layout.ts';
import { openDocument, sealDocument } from '../repository/sealed-document.ts';
import { encodeChunk } from '../repository/chunk-codec.ts';
import { ContentChecksum } from '../content-checksum.ts';
import { copyOptions, type CopyFormat } from '../copy-format.ts';
import { openSnapshotSession } from './snapshot-session.ts';
import { readPlanBatch, readPlanHeader } from './plan.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';

export const RESULT_FORMAT = 'tidemark-export-result';

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

/** Chunks compressed and uploaded while the next one is being read. */
const CHUNKS_IN_FLIGHT = 2;

export async function exportBatch(input: ExportBatchInput, ctx: TaskContext): Promise<ExportBatchOutput> {
  const resultKey = layout.exportResult(input.backupId, input.batch);
  const existing = await ctx.storage.head(resultKey);
  if (existing) {
    const done = openDocument(RESULT_FORMAT, await ctx.storage.get(resultKey), resultKey) as ExportBatchResult;
    return summarize(done);
  }
  const header = await readPlanHeader(ctx, input.backupId);
  const tasks = await readPlanBatch(ctx, input.backupId, input.batch);
  const session = await openSnapshotSession(ctx, input.source, input.snapshotId, `export batch ${input.batch}`);
  const results: ExportTaskResult[] = [];
  try {
    for (const task of tasks) {
      results.push(await exportRange(session, header.schema, task, header.chunkBytes, header.formats[task.table]!, ctx));
    }
    await session.query('COMMIT');
  } finally {
    await session.close();
  }
  const result: ExportBatchResult = { batch: input.batch, tasks: results };
  await ctx.storage.putIfAbsent(resultKey, sealDocument(RESULT_FORMAT, result));
  return summarize(result);
}

export function copyOutSql(table: TableData, task: ExportTask, format: CopyFormat): string {
  const columns = table.columns.map(quoteIdent).join(', ');
  const name = qualifiedName(table.schema, table.name);
  const conditions: string[] = [];
  if (task.fromBlock !== null) conditions.push(`ctid >= '(${task.fromBlock},0)'::pg_catalog.tid`);
  if (task.toBlock !== null) conditions.push(`ctid < '(${task.toBlock},0)'::pg_catalog.tid`);
  // COPY of a table reads only that table (not inheritance children, exported on their own) and
  // is cheaper for the server than COPY of a query, so ranges alone use the query form.
  if (conditions.length === 0) return `COPY ${name} (${columns}) TO STDOUT${copyOptions(format)}`;
  return `COPY (SELECT ${columns} FROM ONLY ${name} WHERE ${conditions.join(' AND ')}) TO STDOUT${copyOptions(format)}`;
}

async function exportRange(session: SqlSession, schema: SchemaSnapshot, task: ExportTask, chunkBytes: number, format: CopyFormat, ctx: TaskContext): Promise<ExportTaskResult> {
  const table = schema.tables[task.table]!;
  const label = qualifiedName(table.schema, table.name);
  const checksum = new ContentChecksum();
  const chunks: ChunkRef[] = [];
  let bytesRead = 0;
  let bytesWritten = 0;
  const inFlight: Promise<void>[] = [];
  const store = async (content: Buffer, index: number, rows: number) => {
    const encoded = await encodeChunk(content);
    const wrote = await ctx.storage.putIfAbsent(layout.chunk(encoded.id), encoded.stored);
    if (wrote) bytesWritten += encoded.stored.byteLength;
    chunks[index] = { id: encoded.id, size: encoded.size, storedSize: encoded.stored.byteLength, rows };
    ctx.progress({ phase: 'export', table: label, rows, bytes: content.length, storedBytes: wrote ? encoded.stored.byteLength : 0, chunks: 1 });
  };
  let index = 0;
  for await (const content of session.copyOutChunks(copyOutSql(table, task, format), chunkBytes)) {
    const before = checksum.rows;
    checksum.addRows(content, format);
    bytesRead += content.length;
    const stored = store(content, index++, checksum.rows - before);
    stored.catch(() => undefined); // awaited below; this only stops an early unhandled rejection
    inFlight.push(stored);
    if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return { table: task.table, range: task.range, rows: checksum.rows, bytesRead, checksum: checksum.digest, chunks, bytesWritten };
}

function summarize(result: ExportBatchResult): ExportBatchOutput {
  return {
    batch: result.batch,
    rows: result.tasks.reduce((s, t) => s + t.rows, 0),
    chunks: result.tasks.reduce((s, t) => s + t.chunks.length, 0),
  };
}
