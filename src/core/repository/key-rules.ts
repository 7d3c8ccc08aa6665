// What a repository key may look like, for every storage backend (layout.ts builds the keys):
// relative '/'-separated paths that cannot escape the root or hide. One rule, so a key valid on
// one backend is valid on the other.
import { InvalidKeyError } from '../errors.ts';

/** Name prefix of in-flight (or crashed) filesystem writes: never a key segment. */
export const TEMP_PREFIX = '.tmp-';

export function checkRepositoryKey(key: string): void {
  const bad =
    key === '' ||
    key.includes('\\') ||
    key.includes('\0') ||
    key.split('/').some((s) => s === '' || s === '.' || s === '..' || s.startsWith(TEMP_PREFIX));
  if (bad) {
    throw new InvalidKeyError(
      `Invalid repository key ${JSON.stringify(key)}: keys are relative '/'-separated paths without ` +
        `empty, '.', '..' or '${TEMP_PREFIX}*' segments and without backslashes. This is a bug in the caller.`,
    );
  }
}
