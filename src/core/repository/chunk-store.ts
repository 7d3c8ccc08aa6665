// The chunk store (FORMAT.md, "Chunks" and "Damaged chunks"): chunks go in encoded, hashed and
// checked, and "present" means present and intact. A stored chunk is write-once, so a damaged one
// is never overwritten in place: it is quarantined — its bytes copied to
// `quarantine/chunks/<id>/<stamp>`, then its key deleted — and the next writer of the same
// content writes it again under the same key.
import { randomBytes } from 'node:crypto';
import type { RepositoryStorage } from '../ports/storage.ts';
import type { ChunkId } from '../ids.ts';
import type { ChunkRef } from './chunk-ref.ts';
import { IntegrityError, RepositoryAccessError } from '../errors.ts';
import { layout } from './layout.ts';
import { decodeChunk, encodeChunk } from './chunk-codec.ts';
import { forEachInParallel } from '../parallel.ts';

export interface StoredChunk {
  ref: ChunkRef;
  /** Compressed bytes this call wrote (0 when an intact copy was there). */
  bytesWritten: number;
  /** Set when a damaged copy was found and quarantined before writing this one. */
  quarantined?: string;
}

/** Encodes `content` and stores it unless an intact copy is there. */
export async function putChunk(storage: RepositoryStorage, content: Uint8Array, rows: number): Promise<StoredChunk> {
  const encoded = await encodeChunk(content);
  const key = layout.chunk(encoded.id);
  const ref = (storedSize: number): ChunkRef => ({ id: encoded.id, size: encoded.size, storedSize, rows });
  const found = await storage.head(key);
  let quarantined: string | undefined;
  if (found) {
    if (found.size === encoded.stored.byteLength) return { ref: ref(found.size), bytesWritten: 0 };
    // Another size: truncated, padded — or an intact copy compressed by another zstd build. Only
    // reading it tells; this is rare, so the read is affordable.
    const problem = await chunkProblem(storage, encoded.id);
    if (problem === undefined) return { ref: ref(found.size), bytesWritten: 0 };
    quarantined = await quarantineChunk(storage, encoded.id);
  }
  const wrote = await storage.putIfAbsent(key, encoded.stored);
  if (wrote)
    return {
      ref: ref(encoded.stored.byteLength),
      bytesWritten: encoded.stored.byteLength,
      ...(quarantined ? { quarantined } : {}),
    };
  // Another writer stored it meanwhile: use what is stored.
  const now = await storage.head(key);
  return { ref: ref(now?.size ?? encoded.stored.byteLength), bytesWritten: 0, ...(quarantined ? { quarantined } : {}) };
}

/** Reads and checks a stored chunk; `undefined` when intact, else what is wrong (missing, corrupt). */
export async function chunkProblem(storage: RepositoryStorage, id: ChunkId): Promise<string | undefined> {
  const key = layout.chunk(id);
  let stored: Uint8Array;
  try {
    stored = await storage.get(key);
  } catch (err) {
    if (err instanceof IntegrityError || (err as Error).name === 'ObjectNotFoundError') return (err as Error).message;
    throw err;
  }
  try {
    await decodeChunk(id, stored, key);
    return undefined;
  } catch (err) {
    if (err instanceof IntegrityError) return err.message;
    throw err;
  }
}

/**
 * Moves a damaged chunk out of its key: copies its bytes to the quarantine, then deletes the key
 * (on a versioned bucket the damaged version stays as a noncurrent version too). Returns the
 * quarantine key, or undefined when the key holds no damaged chunk (any more): the bytes are
 * checked again first, so a writer that found the chunk damaged never deletes the intact copy
 * another writer put there since. The content of a damaged chunk is lost anyway, and a free key
 * lets the next backup of those rows restore the repository's health.
 */
export async function quarantineChunk(
  storage: RepositoryStorage,
  id: ChunkId,
  now = new Date(),
): Promise<string | undefined> {
  const key = layout.chunk(id);
  const stamp = `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
  const target = layout.quarantinedChunk(id, stamp);
  const bytes = await storage.get(key).catch((err: Error) => {
    if (err.name === 'ObjectNotFoundError') return undefined;
    throw err;
  });
  if (bytes === undefined) return undefined; // already moved by someone else
  const intact = await decodeChunk(id, bytes, key).then(
    () => true,
    (err: unknown) => {
      if (err instanceof IntegrityError) return false;
      throw err;
    },
  );
  if (intact) return undefined;
  try {
    await storage.putIfAbsent(target, bytes);
    await storage.delete(key);
  } catch (err) {
    // In AWS the task roles may not delete from chunks/ (write-once, enforced by IAM and the
    // bucket policy): the damaged chunk stays, and the run fails naming it and what to do.
    if (!(err instanceof RepositoryAccessError)) throw err;
    throw new IntegrityError(
      `Chunk ${id} at ${key} in ${storage.location} is damaged, and these credentials may not move it aside (${(err as Error).message}). ` +
        `Run \`tidemark verify <backup> --repo ${storage.location}\` with credentials that may write quarantine/ and delete chunks (an operator's, not a task role): it quarantines the chunk, and the next backup writes it again.`,
      { cause: err },
    );
  }
  return target;
}

/**
 * Of `refs`, those whose chunk is missing or not of the recorded stored size — what a backup
 * cannot build on without reading it again. Heads only (one request per chunk, `lanes` at once).
 */
export async function unusableChunks(
  storage: RepositoryStorage,
  refs: ChunkRef[],
  lanes = 16,
): Promise<{ key: string; problem: string }[]> {
  const bad: { key: string; problem: string }[] = [];
  await forEachInParallel(refs, lanes, async (ref) => {
    const key = layout.chunk(ref.id);
    const info = await storage.head(key);
    if (!info) bad.push({ key, problem: 'missing' });
    else if (info.size !== ref.storedSize)
      bad.push({ key, problem: `${info.size} bytes stored, ${ref.storedSize} recorded` });
  });
  return bad.sort((a, b) => (a.key < b.key ? -1 : 1));
}
