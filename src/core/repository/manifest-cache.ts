// Tasks of one run (a restore's loads and verifies, a backup's incremental exports) need the
// same manifest; in one process (a warm Lambda, or the local runner) it is read and verified once.
import type { RepositoryStorage } from '../ports/storage.ts';
import { readManifest, type Manifest } from './manifest.ts';

const cache = new Map<string, Promise<Manifest>>();
const MAX_ENTRIES = 4;

export function cachedManifest(storage: RepositoryStorage, backupId: string): Promise<Manifest> {
  const key = `${storage.location}\u0000${backupId}`;
  let entry = cache.get(key);
  if (!entry) {
    entry = readManifest(storage, backupId);
    entry.catch(() => cache.delete(key));
    cache.set(key, entry);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return entry;
}
