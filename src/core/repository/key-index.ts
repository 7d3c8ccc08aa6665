// The key index of a table (FORMAT.md, "Key index"): its integer primary-key values, ascending.
// The next incremental backup merges it with the table's current keys to find the deleted rows.
// Stored as text chunks, one delta per line (the first line of a chunk is absolute), cut where
// the key's hash says so: an insert or delete changes only the chunk it falls into, so the
// other chunks keep their ids and are not stored again; sequential ids compress to almost nothing.
import type { ChunkRef } from './chunk-ref.ts';
import type { KeyIndex } from './manifest.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { IntegrityError } from '../errors.ts';
import { layout } from './layout.ts';
import { decodeChunk } from './chunk-codec.ts';
import { Prefetch } from '../prefetch.ts';

/** An integer key: a number when it is a safe integer, a bigint otherwise (so `===` compares). */
export type Key = number | bigint;

/** About one cut in 65,536 keys, on a hash of the key. */
const CUT_MASK = 0xffff;
/** Bounds a chunk's memory if the keys' hashes never cut. */
const MAX_KEYS_PER_CHUNK = 1 << 20;

function normalize(value: bigint): Key {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function difference(a: Key, b: Key): Key {
  if (typeof a === 'number' && typeof b === 'number') {
    const d = a - b;
    if (Number.isSafeInteger(d)) return d;
  }
  return normalize(BigInt(a) - BigInt(b));
}

function sum(a: Key, b: Key): Key {
  if (typeof a === 'number' && typeof b === 'number') {
    const s = a + b;
    if (Number.isSafeInteger(s)) return s;
  }
  return normalize(BigInt(a) + BigInt(b));
}

function cutsAfter(key: Key): boolean {
  const low = typeof key === 'number' ? key % 0x100000000 : Number(BigInt.asIntN(32, key));
  let h = Math.imul(low ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h & CUT_MASK) === 0;
}

/** Parses decimal integers, one per line (COPY text of one int column, or a key index chunk). */
export function parseKeyLines(text: Buffer, where: string): Key[] {
  const keys: Key[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf(10, start);
    if (end < 0) break;
    keys.push(parseKey(text, start, end, where));
    start = end + 1;
  }
  if (start !== text.length) throw new IntegrityError(`${where}: the last key line is not terminated.`);
  return keys;
}

function parseKey(text: Buffer, start: number, end: number, where: string): Key {
  const negative = text[start] === 45; // '-'
  const first = negative ? start + 1 : start;
  if (end - first > 15) return normalize(BigInt(text.toString('latin1', start, end)));
  if (end === first) throw new IntegrityError(`${where}: an empty key line.`);
  let value = 0;
  for (let i = first; i < end; i++) {
    const digit = text[i]! - 48;
    if (digit < 0 || digit > 9)
      throw new IntegrityError(`${where}: "${text.toString('latin1', start, end)}" is not an integer key.`);
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** Decodes a key index chunk: absolute first key, then deltas. */
export function decodeKeyChunk(content: Buffer, where: string): Key[] {
  const keys = parseKeyLines(content, where);
  for (let i = 1; i < keys.length; i++) keys[i] = sum(keys[i - 1]!, keys[i]!);
  return keys;
}

/**
 * Builds a key index from keys given in ascending order. `store` writes one chunk and returns its
 * reference; at most one store runs at a time, so memory stays at one chunk of keys.
 */
export class KeyIndexWriter {
  private lines: string[] = [];
  private previous: Key | undefined;
  private last: Key | undefined;
  private count = 0;
  private readonly chunks: ChunkRef[] = [];

  constructor(
    private readonly column: string,
    private readonly store: (content: Buffer, keys: number) => Promise<ChunkRef>,
  ) {}

  async add(keys: readonly Key[]): Promise<void> {
    for (const key of keys) {
      if (this.last !== undefined && !(key > this.last)) {
        throw new IntegrityError(
          `Key index of column ${this.column}: key ${key} follows ${this.last}; keys must be unique and ascending.`,
        );
      }
      this.last = key;
      this.lines.push(String(this.previous === undefined ? key : difference(key, this.previous)));
      this.previous = key;
      this.count++;
      if (cutsAfter(key) || this.lines.length >= MAX_KEYS_PER_CHUNK) await this.flush();
    }
  }

  async finish(): Promise<KeyIndex> {
    await this.flush();
    return { column: this.column, count: this.count, chunks: this.chunks };
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return;
    const content = Buffer.from(this.lines.join('\n') + '\n', 'latin1');
    const keys = this.lines.length;
    this.lines = [];
    this.previous = undefined;
    this.chunks.push(await this.store(content, keys));
  }
}

/**
 * Keys of `before` that are not in `after`; both ascending, in batches. Calls `gone` with each
 * batch of missing keys, ascending.
 */
export async function missingKeys(
  before: AsyncIterable<Key[]>,
  after: AsyncIterable<Key[]>,
  gone: (keys: Key[]) => Promise<void>,
): Promise<number> {
  const next = after[Symbol.asyncIterator]();
  let batch: Key[] = [];
  let i = 0;
  let exhausted = false;
  let total = 0;
  for await (const keys of before) {
    const missing: Key[] = [];
    for (const key of keys) {
      // Advance `after` to the first key >= key (awaiting only between batches).
      for (;;) {
        if (i < batch.length) {
          if (batch[i]! < key) i++;
          else break;
        } else if (exhausted) {
          break;
        } else {
          const r = await next.next();
          if (r.done) exhausted = true;
          else [batch, i] = [r.value, 0];
        }
      }
      if (i < batch.length && batch[i] === key) i++;
      else missing.push(key);
    }
    if (missing.length > 0) {
      total += missing.length;
      await gone(missing);
    }
  }
  // Read `after` to its end, so its producer (a COPY stream) completes.
  while (!exhausted) exhausted = (await next.next()).done === true;
  return total;
}

/** The keys of an index, chunk by chunk, fetching the next chunk while one is merged. */
export async function* readKeyIndex(
  ctx: { storage: RepositoryStorage },
  index: { chunks: ChunkRef[] },
  label: string,
): AsyncIterable<Key[]> {
  const chunks = new Prefetch(index.chunks, async (ref: ChunkRef) =>
    decodeKeyChunk(
      await decodeChunk(ref.id, await ctx.storage.get(layout.chunk(ref.id)), `keys of ${label}`),
      `key chunk ${ref.id}`,
    ),
  );
  for (let i = 0; i < index.chunks.length; i++) yield (await chunks.next()).value;
}
