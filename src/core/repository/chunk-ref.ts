// A manifest's reference to one chunk: what a restore needs to find, check and place it.
import type { ChunkId } from '../ids.ts';

export interface ChunkRef {
  id: ChunkId;
  /** Uncompressed bytes. */
  size: number;
  /** Compressed bytes in the repository. */
  storedSize: number;
  rows: number;
}
