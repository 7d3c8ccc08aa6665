// Compress, hash and write one chunk unless the repository holds an intact copy (chunk-store.ts).
import type { TaskContext } from '../task-context.ts';
import type { ChunkRef } from './plan-model.ts';
import { putChunk } from '../repository/chunk-store.ts';

export async function storeChunk(
  ctx: TaskContext,
  content: Buffer,
  rows: number,
): Promise<{ ref: ChunkRef; bytesWritten: number }> {
  const stored = await putChunk(ctx.storage, content, rows);
  return { ref: stored.ref, bytesWritten: stored.bytesWritten };
}
