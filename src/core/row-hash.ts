// Runs row-hash.wat's hashRows over rows whose ends are known. The rows and their ends are
// copied into the module's memory (about a tenth of the hashing's cost), which grows to the
// largest chunk seen, up to KEEP_BYTES. One instance per thread; calls are synchronous, so
// nothing interleaves.
import { ROW_HASH_WASM } from './row-hash-wasm.ts';

interface RowHashExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  hashRows(data: number, ends: number, count: number, trim: number): bigint;
}

/** The part of the WebAssembly global used here (this project's TypeScript lib has no DOM types). */
const wasm = (globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: unknown } };
}).WebAssembly;

let instance: RowHashExports | undefined;

function rowHash(): RowHashExports {
  instance ??= new wasm.Instance(new wasm.Module(Buffer.from(ROW_HASH_WASM, 'base64'))).exports as unknown as RowHashExports;
  return instance;
}

/** wasm32 addresses: data plus ends must stay well below 4 GiB. Larger inputs return undefined. */
const MAX_BYTES = 1024 * 1024 * 1024;
/**
 * A module's memory never shrinks: after a call that needed more than this (a chunk holding a
 * huge row), the instance is dropped so the memory goes back with it, instead of staying pinned
 * for the life of the process (a warm Lambda).
 */
const KEEP_BYTES = 64 * 1024 * 1024;

/**
 * The sums of the per-row hashes A and B (modulo 2^32) of `data`'s rows, ending at `rowEnds`,
 * each shortened by `trim` bytes; undefined when the input is too large for the module.
 */
export function hashRowSums(data: Uint8Array, rowEnds: Uint32Array, trim: number): { sumA: number; sumB: number } | undefined {
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
  if (need > KEEP_BYTES) instance = undefined;
  return { sumA: Number(sums & 0xffffffffn), sumB: Number(sums >> 32n) };
}

/** Bytes of module memory held now (0 without an instance); for tests. */
export function rowHashMemoryBytes(): number {
  return instance?.memory.buffer.byteLength ?? 0;
}
