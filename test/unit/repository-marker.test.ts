// The repository marker of a repository its writer is given (AWS: the stack made the bucket):
// ensureRepositoryMarker writes it once, put-if-absent, beside objects written before it, and
// from then on the repository opens like one the CLI created.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { ensureRepositoryMarker, openRepository } from '#core/repository/repository.ts';
import { RepositoryKey, authenticateWith } from '#core/repository/repository-key.ts';
import { layout } from '#core/repository/layout.ts';

const key = RepositoryKey.parse('ab'.repeat(32), 'test key');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-marker-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function keyedStorage(with_ = key): FileSystemStorage {
  const storage = new FileSystemStorage(dir);
  authenticateWith(storage, with_);
  return storage;
}

describe('ensureRepositoryMarker', () => {
  it('writes the marker beside objects written before it, once, even when writers race; the repository then opens', async () => {
    const writer = keyedStorage();
    await writer.putIfAbsent(layout.collection('nightly'), new Uint8Array([1]));
    await expect(openRepository(keyedStorage(), { create: false })).rejects.toThrow(/no tidemark\.json/);
    const markers = await Promise.all([1, 2, 3].map(() => ensureRepositoryMarker(keyedStorage())));
    expect(new Set(markers.map((m) => m.repositoryId)).size, 'one marker won').toBe(1);
    expect(markers[0]!.keyId).toBe(key.id);
    const opened = await openRepository(keyedStorage(), { create: false });
    expect(opened.repositoryId).toBe(markers[0]!.repositoryId);
    expect((await ensureRepositoryMarker(keyedStorage())).repositoryId, 'an existing marker is kept').toBe(
      opened.repositoryId,
    );
  });

  it('refuses a marker authenticated with another key, naming it', async () => {
    await ensureRepositoryMarker(keyedStorage());
    const other = RepositoryKey.parse('cd'.repeat(32), 'other key');
    await expect(ensureRepositoryMarker(keyedStorage(other))).rejects.toThrow(
      /Repository marker tidemark\.json was authenticated with another key/,
    );
  });
});
