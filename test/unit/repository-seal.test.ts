// repository/seal.ts on a directory: every kind of document written without a key (plans,
// batches, results, snapshot hand-offs, segments too) is sealed where it is, so a reader with the
// key accepts it; a segment or plan batch under another key is left alone; and the key is bound.
import { EMPTY_SEGMENT, EMPTY_SEGMENT_PLACE } from '#test/support/segment-document.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { encodeUnauthenticated, readDocument } from '#core/repository/documents.ts';
import * as formats from '#core/repository/document-formats.ts';
import { openRepository } from '#core/repository/repository.ts';
import { authenticateWith, RepositoryKey } from '#core/repository/repository-key.ts';
import { documentAt, sealRepository } from '#core/repository/seal.ts';

const [segment, segmentPlace] = [EMPTY_SEGMENT, EMPTY_SEGMENT_PLACE];

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-seal-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('sealRepository', () => {
  it('seals every kind where it is; the keyed reader accepts them; a misplaced one is left alone', async () => {
    const storage = new FileSystemStorage(dir);
    await openRepository(storage, { create: true }); // no key: the old way
    const docs: [string, Uint8Array][] = [
      [formats.segmentKind.keyOf(segmentPlace), encodeUnauthenticated(formats.segmentKind, segmentPlace, segment)],
      [
        formats.snapshotReleaseKind.keyOf({ runId: 'r1' }),
        encodeUnauthenticated(formats.snapshotReleaseKind, { runId: 'r1' }, { at: '2026-01-01T00:00:00Z' }),
      ],
      [
        formats.planTasksKind.keyOf({ runId: 'r1', batch: 3 }),
        encodeUnauthenticated(formats.planTasksKind, { runId: 'r1', batch: 3 }, [
          { table: 0, range: 0, fromBlock: null, toBlock: null },
        ]),
      ],
    ];
    // The same segment under the key of another LSN: bound to where it was written, not sealed.
    const moved = formats.segmentKind.keyOf({ ...segmentPlace, afterLsn: '0/3000000' });
    docs.push([moved, docs[0]![1]]);
    for (const [key, bytes] of docs) await storage.putIfAbsent(key, bytes);
    expect(documentAt(moved)?.kind).toBe(formats.segmentKind);

    const key = RepositoryKey.parse('cd'.repeat(32), 'test key');
    const report = await sealRepository(storage, key);
    expect(report.sealed.sort()).toEqual(
      docs
        .slice(0, 3)
        .map(([k]) => k)
        .sort(),
    );
    expect(report.refused.map((r) => r.key)).toEqual([moved]);
    expect(report.markerSealed).toBe(true);

    const keyed = new FileSystemStorage(dir);
    authenticateWith(keyed, key);
    expect((await openRepository(keyed, { create: false })).keyId).toBe(key.id);
    expect(await readDocument(keyed, formats.segmentKind, segmentPlace)).toMatchObject({ afterLsn: '0/1000000' });
    expect(await readDocument(keyed, formats.planTasksKind, { runId: 'r1', batch: 3 })).toHaveLength(1);
    // Another key cannot seal it again, or open it.
    await expect(
      sealRepository(new FileSystemStorage(dir), RepositoryKey.parse('ef'.repeat(32), 'other')),
    ).rejects.toThrow(/already sealed with another repository key/);
  });
});
