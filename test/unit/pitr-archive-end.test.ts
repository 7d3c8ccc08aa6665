// chain.ts archiveEnd on a real directory repository: it lists from the segment the catalog knows,
// across the chains begun after it, and lists everything when that segment is not in the
// repository (the repository decides, the catalog's record is a hint).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { archiveEnd, type SegmentPlace } from '#core/pitr/chain.ts';
import { layout } from '#core/repository/layout.ts';
import type { ListOptions } from '#core/ports/storage.ts';

const A = '0000000001000000';
const B = '0000000002000000';
const at = (chain: string, afterLsn: string, part = 0): SegmentPlace => ({ collection: 'app', chain, afterLsn, part });
const places = [at(A, '1/0'), at(A, '1/0', 1), at(A, '1/200'), at(B, '2/0'), at(B, '2/0', 1), at(B, '2/100')];

let root: string;
let storage: FileSystemStorage;
let listed: { prefix: string; startAfter?: string }[];
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tidemark-archive-end-'));
  const fs = new FileSystemStorage(root);
  listed = [];
  storage = Object.assign(Object.create(fs) as FileSystemStorage, {
    list(prefix: string, options?: ListOptions) {
      listed.push({ prefix, ...(options?.startAfter ? { startAfter: options.startAfter } : {}) });
      return fs.list(prefix, options);
    },
  });
  for (const p of places) await fs.putIfAbsent(layout.segment('app', p.chain, p.afterLsn, p.part), new Uint8Array([1]));
  // Another collection whose name starts alike: not listed.
  await fs.putIfAbsent(layout.segment('app2', B, '2/0', 0), new Uint8Array([1]));
});
afterEach(() => rm(root, { recursive: true, force: true }));

test('from a known segment of the last chain: that segment and what follows, one listing', async () => {
  expect(await archiveEnd(storage, 'app', at(B, '2/0', 1))).toEqual({
    chain: B,
    places: places.slice(4),
    whole: false,
  });
  expect(listed).toEqual([
    { prefix: 'segments/app/', startAfter: 'segments/app/0000000002000000/0000000200000000-0001' },
  ]);
});

test('from a segment of an earlier chain: the later chain whole', async () => {
  expect(await archiveEnd(storage, 'app', at(A, '1/200'))).toEqual({ chain: B, places: places.slice(3), whole: true });
  expect(listed).toHaveLength(1);
});

test('a known segment the repository lacks, or none: the whole collection is listed', async () => {
  expect(await archiveEnd(storage, 'app', at(B, '2/50'))).toEqual({ chain: B, places: places.slice(3), whole: true });
  expect(listed.map((l) => l.startAfter)).toEqual(['segments/app/0000000002000000/0000000200000050-0000', undefined]);
  expect(await archiveEnd(storage, 'app')).toEqual({ chain: B, places: places.slice(3), whole: true });
  expect(await archiveEnd(storage, 'none')).toBeUndefined();
});
