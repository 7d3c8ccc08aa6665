// Tasks of one run (a restore's loads and verifies, a backup's incremental exports) need the
// same manifest; in one process (a warm Lambda, or the local runner) it is read and verified once.
// Kept per storage instance, i.e. per container: one function's cache never answers another's
// reads (the grants test gives each function its own, as Lambda does).
import type { RepositoryStorage } from '../ports/storage.ts';
import { readManifest, type Manifest } from './manifest.ts';

const caches = new WeakMap<RepositoryStorage, Map<string, Promise<Manifest>>>();
const MAX_ENTRIES = 4;

export function cachedManifest(storage: RepositoryStorage, backupId: string): Promise<Manifest> {
  let cache = caches.get(storage);
  if (!cache) caches.set(storage, (cache = new Map()));
  let entry = cache.get(backupId);
  if (!entry) {
    const entries = cache;
    entry = readManifest(storage, backupId);
    entry.catch(() => entries.delete(backupId));
    cache.set(backupId, entry);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  }
  return entry;
}
