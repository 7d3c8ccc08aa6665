// Typed identifiers. Chunk ids are SHA-256 digests of a chunk's uncompressed bytes.
import { createHash, randomBytes } from 'node:crypto';
import { UsageError } from './errors.ts';

declare const chunkIdBrand: unique symbol;
/** 64 lowercase hex characters: SHA-256 of the chunk's uncompressed content. */
export type ChunkId = string & { readonly [chunkIdBrand]: true };

export function chunkIdOf(content: Uint8Array): ChunkId {
  return createHash('sha256').update(content).digest('hex') as ChunkId;
}

/** The same as chunkIdOf, hashed on libuv's thread pool so the main thread keeps reading. */
export async function chunkIdOfAsync(content: Uint8Array): Promise<ChunkId> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', content as Uint8Array<ArrayBuffer>);
  return Buffer.from(digest).toString('hex') as ChunkId;
}

export function parseChunkId(text: string): ChunkId {
  if (!/^[0-9a-f]{64}$/.test(text)) throw new UsageError(`"${text}" is not a chunk id (64 hex characters).`);
  return text as ChunkId;
}

/** Short form for logs and progress lines. */
export const shortId = (id: string): string => id.slice(0, 12);

/**
 * Run ids sort by time: `20261121T193000Z-3fa9c1`. Backups and restores use them as their id,
 * so `list` order and `latest` need no extra index.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function isRunId(text: string): boolean {
  return /^\d{8}T\d{6}Z-[0-9a-f]{6}$/.test(text);
}
