// Runs row-hash.wat's hashRows over rows whose ends are known. The rows and their ends are
// copied into the module's memory (about a tenth of the hashing's cost), which grows to the
// largest chunk seen, up to MAX_BYTES. One instance per thread; calls are synchronous, so
// nothing interleaves.
import { ROW_HASH_WASM } from './row-hash-wasm.ts';

interface RowHashExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  hashRows(data: number, ends: number, count: number, trim: number): bigint;
}

/** The part of the WebAssembly global used here (this project's TypeScript lib has no DOM types). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: unknown } };
  }
).WebAssembly;

let instance: RowHashExports | undefined;

function rowHash(): RowHashExports {
  instance ??= new wasm.Instance(new wasm.Module(Buffer.from(ROW_HASH_WASM, 'base64')))
    .exports as unknown as RowHashExports;
  return instance;
}

/**
 * Larger inputs return undefined and are hashed in TypeScript: copying them in would hold them
 * twice, and a module's memory never shrinks, so it would stay that big for the life of the
 * process (a warm Lambda). Chunks are 4 MB unless a row is huge.
 */
const MAX_BYTES = 64 * 1024 * 1024;

/**
 * The sums of the per-row hashes A and B (modulo 2^32) of `data`'s rows, ending at `rowEnds`,
 * each shortened by `trim` bytes; undefined when the input is too large for the module.
 */
export function hashRowSums(
  data: Uint8Array,
  rowEnds: Uint32Array,
  trim: number,
): { sumA: number; sumB: number } | undefined {
  const endsAt = (data.byteLength + 3) & ~3;
  const need = endsAt + rowEnds.byteLength;
  if (need > MAX_BYTES) return undefined;
  const { memory, hashRows } = rowHash();
  try {
    if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  } catch {
    return undefined; // no memory to grow into: the caller hashes in TypeScript instead
  }
  new Uint8Array(memory.buffer, 0, data.byteLength).set(data);
  new Uint32Array(memory.buffer, endsAt, rowEnds.length).set(rowEnds);
  const sums = BigInt.asUintN(64, hashRows(0, endsAt, rowEnds.length, trim));
  return { sumA: Number(sums & 0xffffffffn), sumB: Number(sums >> 32n) };
}

/** Bytes of module memory held now (0 before the first call); for tests. */
export function rowHashMemoryBytes(): number {
  return instance?.memory.buffer.byteLength ?? 0;
}
