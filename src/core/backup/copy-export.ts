// One `COPY … TO STDOUT` inside the snapshot, stored as chunks: cut (whole rows), compressed,
// hashed and written when absent, with the rows' content checksum.
import type { CopiedRows, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { TableData } from '../schema/model.ts';
import type { ChunkRef, ExportTask, ExportTaskResult } from './plan-model.ts';
import { ContentChecksum } from '../content-checksum.ts';
import { copyOptions, type CopyFormat } from '../copy-format.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';
import { storeChunk } from './store-chunk.ts';
import { sourceSelect } from './row-sources.ts';

/** Chunks compressed and uploaded while the next one is being read. */
export const CHUNKS_IN_FLIGHT = 2;

export function copyOutSql(table: TableData, task: ExportTask, format: CopyFormat): string {
  const columns = table.columns.map(quoteIdent).join(', ');
  const name = qualifiedName(table.schema, table.name);
  const conditions: string[] = [];
  if (task.fromBlock !== null) conditions.push(`ctid >= '(${task.fromBlock},0)'::pg_catalog.tid`);
  if (task.toBlock !== null) conditions.push(`ctid < '(${task.toBlock},0)'::pg_catalog.tid`);
  const special = sourceSelect(table, conditions);
  if (special) return `COPY (${special}) TO STDOUT${copyOptions(format)}`;
  // COPY of a table reads only that table (not inheritance children, exported on their own) and
  // is cheaper for the server than COPY of a query, so ranges alone use the query form.
  // A table without columns (they hold rows) takes no column list: `()` is a syntax error.
  if (conditions.length === 0) return `COPY ${name}${columns ? ` (${columns})` : ''} TO STDOUT${copyOptions(format)}`;
  return `COPY (SELECT ${columns} FROM ONLY ${name} WHERE ${conditions.join(' AND ')}) TO STDOUT${copyOptions(format)}`;
}

export type CopyExport = Pick<ExportTaskResult, 'rows' | 'bytesRead' | 'checksum' | 'chunks' | 'bytesWritten'>;

/** Runs one `COPY … TO STDOUT` and stores its rows as chunks. */
export async function exportCopy(
  session: SqlSession,
  sql: string,
  label: string,
  format: CopyFormat,
  chunkBytes: number,
  ctx: TaskContext,
): Promise<CopyExport> {
  const checksum = new ContentChecksum();
  const chunks: ChunkRef[] = [];
  let bytesRead = 0;
  let bytesWritten = 0;
  const inFlight: Promise<void>[] = [];
  const store = async ({ data: content, release }: CopiedRows, index: number, rows: number) => {
    const stored = await storeChunk(ctx, content, rows);
    release?.(); // compressed and hashed: the adapter may reuse the memory
    bytesWritten += stored.bytesWritten;
    chunks[index] = stored.ref;
    ctx.progress({
      phase: 'export',
      table: label,
      rows,
      bytes: content.length,
      storedBytes: stored.bytesWritten,
      chunks: 1,
    });
  };
  let index = 0;
  for await (const copied of session.copyOutChunks(sql, chunkBytes)) {
    checksum.addCopied(copied, format);
    bytesRead += copied.data.length;
    const stored = store(copied, index++, copied.rowEnds.length);
    stored.catch(() => undefined); // awaited below; this only stops an early unhandled rejection
    inFlight.push(stored);
    if (inFlight.length >= CHUNKS_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return { rows: checksum.rows, bytesRead, checksum: checksum.digest, chunks, bytesWritten };
}
