// RepositoryStorage on a local directory: the object `key` is the file `<root>/<key>`.
// Write-once and atomic: the body goes to a uniquely named temp file in the target directory,
// is fsynced, then hard-linked to its final name. link() never replaces an existing name, so of
// racing writers exactly one wins and the others get EEXIST; a reader sees no file or the whole
// one. Directories are never removed (delete leaves them), so a concurrent put never finds its
// parent gone. A file cannot also be a directory, so a key must not be a prefix-directory of
// other keys (`a` and `a/b`); the layout never builds such keys.
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { link, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { relative } from 'node:path';
import { dirname, join, resolve } from 'node:path';
import { InvalidKeyError, ObjectNotFoundError } from '#core/errors.ts';
import type { ListOptions, RepositoryStorage, StoredObjectInfo } from '#core/ports/storage.ts';
import { osFailure } from './os-errors.ts';
import './zstd-codec.ts'; // provides the chunk codec to the core (repository/zstd.ts)
import { TEMP_PREFIX, checkRepositoryKey } from '#core/repository/key-rules.ts';

/** Name prefix of in-flight (or crashed) writes; never a valid key segment, never listed. */
export { TEMP_PREFIX } from '#core/repository/key-rules.ts';

/**
 * Creates the file `path` with `body` unless a file of that name exists; `true` when this call
 * created it. The parent directory must exist. Shared with the file catalog's version files.
 */
export async function writeFileOnce(path: string, body: Uint8Array | string): Promise<boolean> {
  const dir = dirname(path);
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const handle = await open(temp, 'wx');
  try {
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temp, path);
    await syncDirectory(dir); // the new name must survive a crash too, not only the bytes
    return true;
  } catch (err) {
    if (hasCode(err, 'EEXIST')) return false;
    throw err;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

export class FileSystemStorage implements RepositoryStorage {
  readonly location: string;

  constructor(rootDir: string) {
    this.location = resolve(rootDir);
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const path = this.pathOf(key);
    // Content-addressed chunks are often present already: skip writing the body then.
    if (await this.head(key)) return false;
    try {
      await mkdir(dirname(path), { recursive: true });
      if (await writeFileOnce(path, body)) return true;
    } catch (err) {
      throw osFailure(err, 'write', `${key} in ${this.location}`);
    }
    if (await this.head(key)) return false;
    throw new InvalidKeyError(
      `Cannot write ${key} in ${this.location}: a directory of other objects has that name. ` +
        'On a filesystem a key cannot also be the prefix directory of other keys; fix the key layout.',
    );
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if (isMissing(err) || hasCode(err, 'EISDIR')) throw new ObjectNotFoundError(key, this.location);
      throw osFailure(err, 'read', `${key} in ${this.location}`);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<StoredObjectInfo> {
    // Only the directory named by the prefix up to its last '/' can hold matches; below it,
    // only entries starting with the rest of the prefix.
    const cut = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, Math.max(cut, 0));
    if (cut >= 0) checkRepositoryKey(dirKey);
    yield* this.walk(dirKey, prefix.slice(cut + 1), options.startAfter ?? '');
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if (!isMissing(err)) throw osFailure(err, 'delete', `${key} in ${this.location}`);
    }
  }

  async removeAbandonedWrites(olderThan: Date, prefix = ''): Promise<{ removed: string[]; bytes: number }> {
    if (prefix !== '') checkRepositoryKey(prefix.replace(/\/$/, ''));
    const removed: string[] = [];
    let bytes = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory()) await visit(path);
        else if (e.isFile() && e.name.startsWith(TEMP_PREFIX)) {
          const info = await stat(path).catch(() => undefined);
          if (!info || info.mtimeMs >= olderThan.getTime()) continue;
          await unlink(path).catch((err: unknown) => {
            if (!isMissing(err)) throw err;
          });
          removed.push(relative(this.location, path));
          bytes += info.size;
        }
      }
    };
    await visit(join(this.location, prefix));
    return { removed: removed.sort(), bytes };
  }

  private async *walk(dirKey: string, namePrefix: string, startAfter: string): AsyncGenerator<StoredObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.location, dirKey), { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    // Sorting names with '/' appended to directories makes the walk yield whole keys in
    // lexicographic order (`a-b` < `a/x` < `a0`).
    const visible = entries
      .filter((e) => e.name.startsWith(namePrefix) && !e.name.startsWith(TEMP_PREFIX))
      .filter((e) => e.isFile() || e.isDirectory())
      .map((e) => ({ name: e.name, isDir: e.isDirectory(), order: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const entry of visible) {
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDir) {
        // Every key below starts with `key/`: all sort after `startAfter` when that prefix does,
        // none when `startAfter` sorts after the prefix without extending it.
        const below = `${key}/`;
        if (below > startAfter) yield* this.walk(key, '', '');
        else if (startAfter.startsWith(below)) yield* this.walk(key, '', startAfter);
      } else if (key > startAfter) {
        const info = await this.head(key); // undefined when deleted since readdir
        if (info) yield info;
      }
    }
  }

  private pathOf(key: string): string {
    checkRepositoryKey(key);
    return join(this.location, key);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function hasCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** ENOTDIR: a parent component of the path is a file, so the object cannot exist either. */
function isMissing(err: unknown): boolean {
  return hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR');
}
