// zstd for the core (src/core/ports/zstd.ts), from node:zlib where Node has it (22.15+, so the
// Lambda runtime), else from the @mongodb-js/zstd addon: a napi-rs build of the reference C
// library whose prebuilt binaries come as per-platform npm packages (no compiler, no download at
// install). Both write and read standard zstd frames, so either reads what the other wrote; both
// run on libuv's thread pool, off the main thread. Importing this module provides the codec to
// the core (loaded on first use).
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type { Zstd } from '#core/ports/zstd.ts';
import { provideZstd } from '#core/repository/zstd.ts';

type ZlibWithZstd = typeof zlib & {
  zstdCompress?: (data: Uint8Array, options: object, callback: (err: Error | null, out: Buffer) => void) => void;
  zstdDecompress?: (data: Uint8Array, callback: (err: Error | null, out: Buffer) => void) => void;
};

/** This platform's zstd: node:zlib's where there is one, else the addon. */
export function platformZstd(): Zstd {
  return fromNodeZlib(zlib as ZlibWithZstd) ?? fromAddon();
}

/** Every implementation this process can load, by name (tests check they read each other). */
export function zstdImplementations(): Record<'node:zlib' | 'addon', Zstd | undefined> {
  return { 'node:zlib': fromNodeZlib(zlib as ZlibWithZstd), addon: fromAddon() };
}

function fromNodeZlib(z: ZlibWithZstd): Zstd | undefined {
  if (typeof z.zstdCompress !== 'function' || typeof z.zstdDecompress !== 'function') return undefined;
  const compress = promisify(z.zstdCompress) as (data: Uint8Array, options: object) => Promise<Buffer>;
  const decompress = promisify(z.zstdDecompress) as (data: Uint8Array) => Promise<Buffer>;
  const levelParam = (z.constants as Record<string, number>).ZSTD_c_compressionLevel!;
  return {
    compress: (data, level) => compress(data, { params: { [levelParam]: level } }),
    decompress: (data) => decompress(data),
  };
}

function fromAddon(): Zstd {
  // The package's index.js drops the level argument; its bindings take it.
  const bindings = createRequire(import.meta.url)('@mongodb-js/zstd/bindings') as {
    compress(data: Buffer, level?: number): Promise<Buffer>;
    decompress(data: Buffer): Promise<Buffer>;
  };
  const asBuffer = (data: Uint8Array) =>
    Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    compress: (data, level) => bindings.compress(asBuffer(data), level),
    decompress: (data) => bindings.decompress(asBuffer(data)),
  };
}

provideZstd(platformZstd);
