// Compress, hash and write one chunk unless the repository already holds it.
import type { TaskContext } from '../task-context.ts';
import type { ChunkRef } from './plan-model.ts';
import { layout } from '../repository/layout.ts';
import { encodeChunk } from '../repository/chunk-codec.ts';

export async function storeChunk(ctx: TaskContext, content: Buffer, rows: number): Promise<{ ref: ChunkRef; bytesWritten: number }> {
  const encoded = await encodeChunk(content);
  const wrote = await ctx.storage.putIfAbsent(layout.chunk(encoded.id), encoded.stored);
  const ref = { id: encoded.id, size: encoded.size, storedSize: encoded.stored.byteLength, rows };
  return { ref, bytesWritten: wrote ? encoded.stored.byteLength : 0 };
}
