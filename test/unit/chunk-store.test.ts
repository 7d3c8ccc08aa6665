// The chunk store: "present" means present and intact (issue 11, finding 2).
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { chunkProblem, putChunk, quarantineChunk } from '#core/repository/chunk-store.ts';
import { layout } from '#core/repository/layout.ts';
import { RepositoryAccessError } from '#core/errors.ts';

let dir: string;
let storage: FileSystemStorage;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-chunk-store-'));
  storage = new FileSystemStorage(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const rows = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `${i}\trow ${i}\n`).join(''));

describe('chunk store', () => {
  it('an intact chunk is present: nothing is written again', async () => {
    const first = await putChunk(storage, rows(100), 100);
    expect(first.bytesWritten).toBeGreaterThan(0);
    const again = await putChunk(storage, rows(100), 100);
    expect(again).toEqual({ ref: first.ref, bytesWritten: 0 });
  });

  it('a truncated chunk is quarantined and written again; the ref records what is stored', async () => {
    const first = await putChunk(storage, rows(200), 200);
    const key = layout.chunk(first.ref.id);
    await truncate(join(dir, key), 5);
    const again = await putChunk(storage, rows(200), 200);
    expect(again.bytesWritten).toBe(first.ref.storedSize);
    expect(again.quarantined).toMatch(new RegExp(`^quarantine/chunks/${first.ref.id}/`));
    expect(await chunkProblem(storage, first.ref.id)).toBeUndefined();
    expect((await storage.get(again.quarantined!)).length).toBe(5);
  });

  it('where the credentials may not delete chunks (a task role in AWS), a damaged chunk fails the write naming it and what to do', async () => {
    // The one fake here: a store that denies deletes as the task roles' IAM and bucket policy do
    // in AWS (no local S3 server enforces IAM).
    const denying = Object.assign(Object.create(storage), {
      delete: async (key: string) => {
        throw new RepositoryAccessError(
          `Cannot delete ${key} in ${storage.location}: access denied (AccessDenied (HTTP 403)).`,
        );
      },
    }) as FileSystemStorage;
    const first = await putChunk(storage, rows(400), 400);
    await truncate(join(dir, layout.chunk(first.ref.id)), 7);
    await expect(putChunk(denying, rows(400), 400)).rejects.toThrow(
      new RegExp(`Chunk ${first.ref.id} .* is damaged.*tidemark verify`),
    );
    expect((await storage.head(layout.chunk(first.ref.id)))?.size).toBe(7);
  });

  it('quarantine leaves an intact chunk where it is (a writer that found it damaged may be late)', async () => {
    const stored = await putChunk(storage, rows(300), 300);
    expect(await quarantineChunk(storage, stored.ref.id)).toBeUndefined();
    expect(await chunkProblem(storage, stored.ref.id)).toBeUndefined();
  });

  it('a flipped byte keeps the size: putIfAbsent cannot see it, a read (verify) does, and quarantine frees the key', async () => {
    const stored = await putChunk(storage, rows(400), 400);
    const path = join(dir, layout.chunk(stored.ref.id));
    const bytes = Buffer.from(await storage.get(layout.chunk(stored.ref.id)));
    bytes[bytes.length >> 1]! ^= 0x5a;
    await writeFile(path, bytes);
    expect(await chunkProblem(storage, stored.ref.id)).toMatch(/corrupt/);
    expect(await quarantineChunk(storage, stored.ref.id)).toMatch(/^quarantine\/chunks\//);
    expect((await putChunk(storage, rows(400), 400)).bytesWritten).toBeGreaterThan(0);
    expect(await chunkProblem(storage, stored.ref.id)).toBeUndefined();
  });
});
