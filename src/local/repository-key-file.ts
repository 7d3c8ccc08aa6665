// Where local mode finds the repository key (repository-key.ts): `$TIDEMARK_KEY` (64 hex digits),
// else the file `$TIDEMARK_KEY_FILE`. A key file that does not exist yet is created, with a new
// random key and mode 0600, when a command may create the repository: the key is made with the
// repository and kept outside it. Without either variable, documents are not authenticated.
import { readFile, writeFile } from 'node:fs/promises';
import { RepositoryKey } from '#core/repository/repository-key.ts';
import { UsageError } from '#core/errors.ts';

export const KEY_ENV = 'TIDEMARK_KEY';
export const KEY_FILE_ENV = 'TIDEMARK_KEY_FILE';

export async function loadRepositoryKey(options: { create: boolean }): Promise<RepositoryKey | undefined> {
  const inline = process.env[KEY_ENV];
  if (inline) return RepositoryKey.parse(inline, `$${KEY_ENV}`);
  const file = process.env[KEY_FILE_ENV];
  if (!file) return undefined;
  try {
    return RepositoryKey.parse(await readFile(file, 'utf8'), `Key file ${file}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!options.create) {
    throw new UsageError(
      `Key file ${file} ($${KEY_FILE_ENV}) does not exist. Point $${KEY_FILE_ENV} at the key the repository was created with.`,
    );
  }
  const { key, text } = RepositoryKey.generate();
  try {
    await writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (err) {
    // Another process created it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return RepositoryKey.parse(await readFile(file, 'utf8'), `Key file ${file}`);
    throw err;
  }
}
