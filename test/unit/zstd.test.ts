// The chunk codec, and zstd frames that other implementations read: the reference `zstd` CLI
// (Debian's package; .ci/run installs it) decodes what each implementation here writes, and each
// decodes what the CLI writes. Where node:zlib has zstd too (Node 22.15+, the Lambda runtime),
// the addon and node:zlib read each other's frames — chunks written on a laptop restore in AWS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, vi } from 'vitest';
import { platformZstd, zstdImplementations } from '#adapters/zstd-codec.ts';
import { provideZstd, zstd } from '#core/repository/zstd.ts';
import { decodeChunk, encodeChunk } from '#core/repository/chunk-codec.ts';

const content = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `${i}\tvalue ${i % 97}\n`).join(''));

describe('chunk codec', () => {
  it('round-trips and checks the id', async () => {
    const encoded = await encodeChunk(content);
    expect(encoded.stored.byteLength).toBeLessThan(content.length / 3);
    expect((await decodeChunk(encoded.id, encoded.stored, 'test')).equals(content)).toBe(true);
  });

  it('names the chunk when its bytes are damaged', async () => {
    const encoded = await encodeChunk(content);
    const damaged = Buffer.from(encoded.stored);
    damaged[damaged.length >> 1] ^= 0xff;
    await expect(decodeChunk(encoded.id, damaged, 'table public.t')).rejects.toThrow(
      new RegExp(`Chunk ${encoded.id}.*table public.t`),
    );
  });

  it('compresses with the codec the process provides: the core loads none itself', async () => {
    const calls: string[] = [];
    const platform = platformZstd();
    provideZstd(() => ({
      compress: (data, level) => (calls.push(`compress ${level}`), platform.compress(data, level)),
      decompress: (data) => (calls.push('decompress'), platform.decompress(data)),
    }));
    try {
      const encoded = await encodeChunk(content);
      await decodeChunk(encoded.id, encoded.stored, 'test');
      expect(calls).toEqual([expect.stringMatching(/^compress \d+$/), 'decompress']);
    } finally {
      provideZstd(platformZstd);
    }
  });

  it('the core alone has no codec: it says which adapter provides one', async () => {
    vi.resetModules();
    const fresh = await import('#core/repository/zstd.ts');
    expect(() => fresh.zstd()).toThrow(/No zstd codec was provided.*#adapters\/zstd-codec\.ts/);
  });

  it('writes standard zstd frames (magic 28 b5 2f fd)', async () => {
    const stored = await zstd().compress(content, 3);
    expect(stored.subarray(0, 4).toString('hex')).toBe('28b52ffd');
  });
});

describe('zstd frames across implementations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-zstd-'));
  const cli = (args: string[]) => execFileSync('zstd', ['-q', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const available = Object.entries(zstdImplementations()).filter(
    (e): e is [string, NonNullable<(typeof e)[1]>] => e[1] !== undefined,
  );

  it('the addon is always there (node:zlib only on Node 22.15+)', () => {
    expect(available.map(([name]) => name)).toContain('addon');
  });

  for (const [name, impl] of available) {
    it(`the reference CLI reads what ${name} writes, and ${name} reads what the CLI writes`, async () => {
      const ours = join(dir, `${name}.zst`);
      writeFileSync(ours, await impl.compress(content, 3));
      cli(['-d', '-f', ours, '-o', join(dir, `${name}.out`)]);
      expect(readFileSync(join(dir, `${name}.out`)).equals(content)).toBe(true);

      writeFileSync(join(dir, 'plain'), content);
      cli(['-19', '-f', join(dir, 'plain'), '-o', join(dir, 'reference.zst')]);
      expect((await impl.decompress(readFileSync(join(dir, 'reference.zst')))).equals(content)).toBe(true);
    });
  }

  it("every implementation here reads every other one's frames", async () => {
    for (const [writer, w] of available) {
      const frame = await w.compress(content, 3);
      for (const [reader, r] of available)
        expect((await r.decompress(frame)).equals(content), `${reader} reads ${writer}`).toBe(true);
    }
  });
});
