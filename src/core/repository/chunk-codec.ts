// Chunk encoding: zstd level 3 (FORMAT.md, "Chunks"). Against brotli quality 1 (tried first) it
// stores binary COPY data 8–12 % smaller at the same speed; compression and the SHA-256 both run
// on libuv's thread pool, so the main thread keeps reading COPY data.
import { chunkIdOfAsync, type ChunkId } from '../ids.ts';
import { IntegrityError } from '../errors.ts';
import { zstd } from './zstd.ts';

export const CHUNK_CODEC = 'zstd-3';
const LEVEL = 3;

export interface EncodedChunk {
  id: ChunkId;
  size: number;
  stored: Uint8Array;
}

export async function encodeChunk(content: Uint8Array): Promise<EncodedChunk> {
  const [id, stored] = await Promise.all([chunkIdOfAsync(content), zstd().compress(content, LEVEL)]);
  return { id, size: content.byteLength, stored };
}

/** Decompresses and checks the content against its id; a mismatch names the chunk. */
export async function decodeChunk(id: ChunkId, stored: Uint8Array, where: string): Promise<Buffer> {
  let content: Buffer;
  try {
    content = await zstd().decompress(stored);
  } catch (err) {
    throw new IntegrityError(`Chunk ${id} (${where}) is corrupt: it does not decompress (${(err as Error).message}).`);
  }
  const actual = await chunkIdOfAsync(content);
  if (actual !== id) {
    throw new IntegrityError(`Chunk ${id} (${where}) is corrupt: its content hashes to ${actual}.`);
  }
  return content;
}
