// The RepositoryStorage contract: every storage adapter runs this same suite (restic-style), so
// adding a backend adds only a short test file. Each test gets a fresh, empty storage.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '#core/errors.ts';
import type { RepositoryStorage } from '#core/ports/storage.ts';

export interface StorageFixture {
  storage: RepositoryStorage;
  cleanup(): Promise<void>;
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array): string => new TextDecoder().decode(body);
const sha256 = (body: Uint8Array): string => createHash('sha256').update(body).digest('hex');

export async function listKeys(storage: RepositoryStorage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of storage.list(prefix)) keys.push(info.key);
  return keys;
}

/** What a backend can promise beyond the common contract. */
export interface StorageCapabilities {
  /**
   * Of concurrent putIfAbsent calls on one absent key, exactly one returns `true` and its body
   * stays. Without it (S3 with HEAD-then-PUT), several racers may return `true` and the last
   * body written stays — harmless for content-addressed keys, whose racers write equal bytes.
   */
  exclusiveCreate: boolean;
}

export function storageContract(
  name: string,
  make: () => Promise<StorageFixture>,
  capabilities: StorageCapabilities = { exclusiveCreate: true },
): void {
  describe(`RepositoryStorage contract: ${name}`, () => {
    let storage: RepositoryStorage;
    let fixture: StorageFixture;
    beforeEach(async () => {
      fixture = await make();
      storage = fixture.storage;
    });
    afterEach(() => fixture.cleanup());

    it('has a non-empty location', () => {
      expect(storage.location).toMatch(/\S/);
    });

    it('putIfAbsent returns true when it writes, then false', async () => {
      expect(await storage.putIfAbsent('chunks/ab/1', bytes('one'))).toBe(true);
      expect(await storage.putIfAbsent('chunks/ab/1', bytes('one'))).toBe(false);
      expect(text(await storage.get('chunks/ab/1'))).toBe('one');
    });

    it('a second put with a different body does not overwrite', async () => {
      await storage.putIfAbsent('manifests/b1', bytes('first'));
      expect(await storage.putIfAbsent('manifests/b1', bytes('second, longer body'))).toBe(false);
      expect(text(await storage.get('manifests/b1'))).toBe('first');
      expect(await storage.head('manifests/b1')).toEqual({ key: 'manifests/b1', size: 5 });
    });

    it('get of a missing key throws ObjectNotFoundError naming the key', async () => {
      const missing = storage.get('chunks/zz/missing');
      await expect(missing).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(missing).rejects.toThrow('chunks/zz/missing');
    });

    it('head gives key and size, or undefined when missing', async () => {
      await storage.putIfAbsent('plans/p1', bytes('12345'));
      expect(await storage.head('plans/p1')).toEqual({ key: 'plans/p1', size: 5 });
      expect(await storage.head('plans/p2')).toBeUndefined();
      expect(await storage.head('nowhere/at/all')).toBeUndefined();
    });

    it('the empty object round-trips', async () => {
      expect(await storage.putIfAbsent('empty', new Uint8Array(0))).toBe(true);
      expect((await storage.get('empty')).length).toBe(0);
      expect(await storage.head('empty')).toEqual({ key: 'empty', size: 0 });
    });

    it('list yields every object in lexicographic key order, with sizes', async () => {
      // Chosen so that naive directory order differs from key order ('-' < '/' < '0').
      const keys = ['a0', 'a/b', 'b', 'a-b', 'a/a/z', 'ab/c', 'a.b', 'A'];
      for (const key of keys) await storage.putIfAbsent(key, bytes(key));
      const listed = [];
      for await (const info of storage.list('')) listed.push(info);
      expect(listed.map((i) => i.key)).toEqual([...keys].sort());
      expect(listed.every((i) => i.size === i.key.length)).toBe(true);
    });

    it('list filters by prefix, including a partial name', async () => {
      const keys = ['chunks/ab/1', 'chunks/ab/2', 'chunks/ac/1', 'chunks/b/1', 'chunksx', 'index/1'];
      for (const key of keys) await storage.putIfAbsent(key, bytes(key));
      expect(await listKeys(storage, 'chunks/a')).toEqual(['chunks/ab/1', 'chunks/ab/2', 'chunks/ac/1']);
      expect(await listKeys(storage, 'chunks/')).toEqual(keys.slice(0, 4));
      expect(await listKeys(storage, 'chunks')).toEqual(keys.slice(0, 5));
      expect(await listKeys(storage, 'chunks/ab/')).toEqual(['chunks/ab/1', 'chunks/ab/2']);
      expect(await listKeys(storage, 'chunks/ab/1')).toEqual(['chunks/ab/1']);
      expect(await listKeys(storage, 'chunks/zz/')).toEqual([]);
      expect(await listKeys(storage, 'nothing')).toEqual([]);
    });

    it('list with startAfter yields only the keys that sort after it, whether or not it is a key', async () => {
      // Change segments' layout: fixed-width names in directories ('-' < '.' < '/' < '0').
      const keys = [
        's/c/A/01-0000.json',
        's/c/A/01-0001.json',
        's/c/A/02-0000.json',
        's/c/B/01-0000.json',
        's/d/1',
        't',
      ];
      for (const key of keys) await storage.putIfAbsent(key, bytes(key));
      const after = async (prefix: string, startAfter: string) => {
        const listed: string[] = [];
        for await (const info of storage.list(prefix, { startAfter })) listed.push(info.key);
        return listed;
      };
      expect(await after('s/c/', 's/c/A/01-0001.json')).toEqual(keys.slice(2, 4));
      // Not a key: the name without its extension sorts just before the key itself.
      expect(await after('s/c/', 's/c/A/01-0001')).toEqual(keys.slice(1, 4));
      expect(await after('s/c/', 's/c/A/02-0000.json')).toEqual(['s/c/B/01-0000.json']);
      expect(await after('s/c/', 's/c/A/')).toEqual(keys.slice(0, 4));
      expect(await after('s/c/', 's/c/A0')).toEqual(['s/c/B/01-0000.json']);
      expect(await after('', 's/c/B/01-0000.json')).toEqual(['s/d/1', 't']);
      expect(await after('', '')).toEqual(keys);
      expect(await after('s/', 'u')).toEqual([]);
      expect(await after('s/c/', 'a')).toEqual(keys.slice(0, 4));
    });

    it('list of the empty prefix is empty on an empty repository', async () => {
      expect(await listKeys(storage, '')).toEqual([]);
    });

    it('delete removes the object and is idempotent', async () => {
      await storage.putIfAbsent('chunks/ab/1', bytes('one'));
      await storage.putIfAbsent('chunks/ab/2', bytes('two'));
      await storage.delete('chunks/ab/1');
      await expect(storage.get('chunks/ab/1')).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await storage.head('chunks/ab/1')).toBeUndefined();
      expect(await listKeys(storage, '')).toEqual(['chunks/ab/2']);
      await storage.delete('chunks/ab/1');
      await storage.delete('never/written');
      // After garbage collection a later backup may need the same chunk again.
      expect(await storage.putIfAbsent('chunks/ab/1', bytes('again'))).toBe(true);
      expect(text(await storage.get('chunks/ab/1'))).toBe('again');
    });

    it(`20 concurrent putIfAbsent of one key: ${capabilities.exclusiveCreate ? 'exactly one wins' : 'one of the callers that returned true'} and its body is intact`, async () => {
      // Different 256 KiB bodies per caller, so an interleaved or torn write would show.
      const bodies = Array.from({ length: 20 }, (_, i) => new Uint8Array(256 * 1024).fill(i));
      const results = await Promise.all(bodies.map((body) => storage.putIfAbsent('chunks/cc/race', body)));
      const stored = sha256(await storage.get('chunks/cc/race'));
      const winners = bodies.filter((_, i) => results[i]).map(sha256);
      if (capabilities.exclusiveCreate) expect(winners).toHaveLength(1);
      else expect(winners.length).toBeGreaterThanOrEqual(1);
      expect(winners).toContain(stored);
      expect(await listKeys(storage, '')).toEqual(['chunks/cc/race']);
    });

    it('20 concurrent putIfAbsent of one key with the same body (content addressing): all succeed, one object', async () => {
      const body = Uint8Array.from({ length: 300 * 1024 }, (_, i) => (i * 31) % 251);
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.putIfAbsent('chunks/dd/same', body)));
      expect(results.filter((won) => won).length).toBeGreaterThanOrEqual(1);
      expect(sha256(await storage.get('chunks/dd/same'))).toBe(sha256(body));
      expect(await listKeys(storage, '')).toEqual(['chunks/dd/same']);
    });

    it('removeAbandonedWrites removes no object, however old the cut-off', async () => {
      await storage.putIfAbsent('chunks/ab/1', bytes('one'));
      await storage.putIfAbsent('backups/b1/manifest.json', bytes('two'));
      const removed = await storage.removeAbandonedWrites(new Date(Date.now() + 3600_000));
      expect(removed.removed).toEqual([]);
      expect(await listKeys(storage, '')).toEqual(['backups/b1/manifest.json', 'chunks/ab/1']);
    });

    it('binary content with every byte value round-trips', async () => {
      const body = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      await storage.putIfAbsent('binary', body);
      expect(Array.from(await storage.get('binary'))).toEqual(Array.from(body));
    });

    it('a 20 MB object round-trips', async () => {
      const body = new Uint8Array(20 * 1024 * 1024);
      for (let i = 0; i < body.length; i += 4096) body.set(createHash('sha256').update(String(i)).digest(), i);
      expect(await storage.putIfAbsent('chunks/big/20mb', body)).toBe(true);
      expect(await storage.head('chunks/big/20mb')).toEqual({ key: 'chunks/big/20mb', size: body.length });
      expect(sha256(await storage.get('chunks/big/20mb'))).toBe(sha256(body));
    });
  });
}
