// Step "LoadBatch": for each chunk of the batch: get → verify hash → decompress → COPY FROM,
// recorded in the target's progress table in the same transaction (so a retry loads nothing
// twice). The next chunk is fetched while the current one loads.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { layout } from '../repository/layout.ts';
import { TidemarkError } from '../errors.ts';
import { copyInput, copyOptions } from '../copy-format.ts';
import { decodeChunk } from '../repository/chunk-codec.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';
import { doneSteps, runStepOnce } from './progress-table.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { loadBatches, type LoadItem } from './load-plan.ts';

export interface LoadBatchInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  batch: number;
}

export async function loadBatch(input: LoadBatchInput, ctx: TaskContext): Promise<{ batch: number; chunks: number; rows: number }> {
  const manifest = await cachedManifest(ctx.storage, input.backupId);
  const items = loadBatches(manifest)[input.batch] ?? [];
  const session = await ctx.databases.connect(input.target, { applicationName: `tidemark load batch ${input.batch}` });
  let loaded = 0;
  let rows = 0;
  try {
    // Safe without waiting for each commit's WAL flush: a chunk and its progress row commit
    // together, so a crash loses both and the retry loads the chunk again. Complete's final
    // commit is synchronous and flushes everything before it.
    await session.query('SET synchronous_commit = off');
    const done = await doneSteps(session, 'chunk:');
    const pending = items.filter((i) => !done.has(stepOf(i)));
    const fetch = async (item: LoadItem) => {
      const table = manifest.tables[item.table]!;
      const where = `table ${qualifiedName(table.schema, table.name)}, chunk ${item.chunk}`;
      return decodeChunk(item.ref.id, await ctx.storage.get(layout.chunk(item.ref.id)), where);
    };
    let next = pending[0] ? fetch(pending[0]) : undefined;
    for (let i = 0; i < pending.length; i++) {
      const item = pending[i]!;
      const content = await next!;
      next = pending[i + 1] ? fetch(pending[i + 1]!) : undefined;
      next?.catch(() => undefined); // awaited on the next turn
      const table = manifest.tables[item.table]!;
      const copy = `COPY ${qualifiedName(table.schema, table.name)} (${table.columns.map(quoteIdent).join(', ')}) FROM STDIN${copyOptions(table.format)}`;
      let didLoad: boolean;
      try {
        didLoad = await runStepOnce(session, stepOf(item), () => session.copyIn(copy, copyInput(table.format, content)));
      } catch (err) {
        throw new TidemarkError(`Loading chunk ${item.ref.id.slice(0, 12)} into ${qualifiedName(table.schema, table.name)} failed: ${(err as Error).message}`, { cause: err });
      }
      // A concurrent attempt of this batch loaded it first: count it once, there.
      if (!didLoad) continue;
      loaded++;
      rows += item.ref.rows;
      ctx.progress({ phase: 'load', table: qualifiedName(table.schema, table.name), rows: item.ref.rows, bytes: item.ref.size, chunks: 1 });
    }
  } finally {
    await session.close();
  }
  return { batch: input.batch, chunks: loaded, rows };
}

function stepOf(item: LoadItem): string {
  return `chunk:${item.table}:${item.chunk}`;
}
