// Compression of chunks and change segments: standard zstd frames (RFC 8878), so any zstd
// implementation reads what another wrote. The core never loads one itself (a native addon on
// Node 20, node:zlib on 22.15+): an adapter does (src/adapters/zstd-codec.ts) and provides it
// to repository/zstd.ts.

export interface Zstd {
  /** One zstd frame holding `data`, at `level` (1–19). Runs off the main thread. */
  compress(data: Uint8Array, level: number): Promise<Buffer>;
  /**
   * The content of one or more concatenated zstd frames. Rejects damaged or truncated input
   * (the caller names the object); never returns partial content.
   */
  decompress(data: Uint8Array): Promise<Buffer>;
}
