import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { InvalidKeyError, ObjectNotFoundError } from '#core/errors.ts';
import { listKeys, storageContract } from './storage-contract.ts';

storageContract('FileSystemStorage', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tidemark-fs-storage-'));
  return { storage: new FileSystemStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('FileSystemStorage on disk', () => {
  let base: string; // holds `repo`, so a key escaping the root would show up beside it
  let root: string;
  let storage: FileSystemStorage;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'tidemark-fs-storage-'));
    root = join(base, 'repo');
    storage = new FileSystemStorage(root);
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  it('location is the absolute root directory', () => {
    expect(storage.location).toBe(root);
    expect(new FileSystemStorage(relative(process.cwd(), root)).location).toBe(resolve(root));
  });

  it('a write that died between temp file and link leaves no visible object', async () => {
    await storage.putIfAbsent('chunks/ab/keep', new Uint8Array([1]));
    // What a writer killed before link() leaves behind: a temp file beside the final name.
    await writeFile(join(root, 'chunks/ab/.tmp-0123456789abcdef'), 'half a chu');
    expect(await listKeys(storage, '')).toEqual(['chunks/ab/keep']);
    expect(await listKeys(storage, 'chunks/ab/')).toEqual(['chunks/ab/keep']);
    await expect(storage.get('chunks/ab/lost')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await storage.head('chunks/ab/lost')).toBeUndefined();
    await expect(storage.head('chunks/ab/.tmp-0123456789abcdef')).rejects.toBeInstanceOf(InvalidKeyError);
    expect(await storage.putIfAbsent('chunks/ab/lost', new Uint8Array([2]))).toBe(true); // the retry
  });

  it('removeAbandonedWrites removes temp files older than the cut-off, anywhere under the root, and keeps younger ones', async () => {
    await storage.putIfAbsent('chunks/ab/keep', new Uint8Array([1]));
    await mkdir(join(root, 'catalog', 'backups', 'x'), { recursive: true });
    await writeFile(join(root, 'chunks/ab/.tmp-old'), 'half a chu');
    await writeFile(join(root, 'catalog/backups/x/.tmp-old'), '{"half');
    const cutOff = new Date(Date.now() + 1000);
    await writeFile(join(root, 'chunks/ab/.tmp-young'), 'written after the cut-off');
    const later = new Date(Date.now() + 5000);
    await utimes(join(root, 'chunks/ab/.tmp-young'), later, later);
    expect(await storage.removeAbandonedWrites(cutOff)).toEqual({
      removed: ['catalog/backups/x/.tmp-old', 'chunks/ab/.tmp-old'],
      bytes: 16,
    });
    expect((await readdir(join(root, 'chunks/ab'))).sort()).toEqual(['.tmp-young', 'keep']);
  });

  it('leaves no temp files behind after puts that won or lost', async () => {
    await Promise.all(Array.from({ length: 5 }, () => storage.putIfAbsent('a/b', new Uint8Array([1]))));
    expect(await readdir(join(root, 'a'))).toEqual(['b']);
  });

  it('rejects malformed keys with InvalidKeyError and writes nothing outside the root', async () => {
    const bad = ['../x', '/abs', 'a//b', 'a/', '', '.', 'a/../../x', 'a\\b', 'x/.tmp-1'];
    for (const key of bad) {
      await expect(storage.putIfAbsent(key, new Uint8Array([1])), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.head(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(storage.delete(key), key).rejects.toBeInstanceOf(InvalidKeyError);
    }
    await expect(listKeys(storage, '../')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(listKeys(storage, '/abs')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(storage.putIfAbsent('../x', new Uint8Array([1]))).rejects.toThrow('../x');
    expect(await readdir(base)).toEqual([]);
  });

  it('a directory of other objects is not an object, and cannot become one', async () => {
    await storage.putIfAbsent('a/b', new Uint8Array([1]));
    expect(await storage.head('a')).toBeUndefined();
    await expect(storage.get('a')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(storage.putIfAbsent('a', new Uint8Array([1]))).rejects.toBeInstanceOf(InvalidKeyError);
    await mkdir(join(root, 'empty-dir'));
    expect(await listKeys(storage, '')).toEqual(['a/b']);
  });
});
