// `catalog rebuild` recreates the records of change segments from the repository (FORMAT.md,
// "Catalog rebuild"), each read through the authenticated document layer: the same records the
// archiver wrote, for every collection; a segment signed with another key or whose records fail
// their checksum is named and skipped; a second rebuild finds them all present.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempRepository } from '../support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';
import { rebuildCatalog } from '#core/maintenance/catalog-rebuild.ts';
import { segmentRecorder } from '#core/pipelines/segment-recorder.ts';
import { sealSegment, writeSegment, type ChangeSegment, type SegmentHeader } from '#core/pitr/segment.ts';
import { encodeDocument } from '#core/repository/documents.ts';
import { segmentKind } from '#core/repository/document-formats.ts';
import { RepositoryKey } from '#core/repository/repository-key.ts';
import { layout } from '#core/repository/layout.ts';

const CHAIN = '0000000001000000';
const saved = process.env.TIDEMARK_KEY;
beforeAll(() => {
  process.env.TIDEMARK_KEY = 'ab'.repeat(32);
});
afterAll(() => {
  if (saved === undefined) delete process.env.TIDEMARK_KEY;
  else process.env.TIDEMARK_KEY = saved;
});

const header = (collection: string, afterLsn: string, endLsn: string, more: Partial<SegmentHeader> = {}) =>
  ({
    collection,
    chain: CHAIN,
    afterLsn,
    part: 0,
    slot: `tidemark_${collection}`,
    source: { systemIdentifier: '7000000000000000001', database: collection, serverVersionNum: 150000 },
    endLsn,
    openAtEnd: false,
    transactions: 0,
    changes: 0,
    sealedAt: '2026-12-07T03:00:00.000Z',
    ...more,
  }) satisfies SegmentHeader;

/** A segment of one insert transaction committed at `lsn`. */
async function transaction(
  collection: string,
  afterLsn: string,
  lsn: string,
  xid: string,
  part = 0,
): Promise<ChangeSegment> {
  const commit = { xid, lsn, time: '2026-12-07T03:00:01.000001Z' };
  return sealSegment(
    header(collection, afterLsn, lsn, { part, transactions: 1, changes: 1, firstCommit: commit, lastCommit: commit }),
    [
      JSON.stringify({ k: 'B', xid }),
      JSON.stringify({ k: 'I', rel: 'public.t', new: { id: xid } }),
      JSON.stringify({ k: 'C', ...commit }),
    ],
  );
}

test('catalog rebuild recreates segment records from the repository and names a forged or damaged segment', async () => {
  const repo = await tempRepository();
  const ctx = await openLocalContext(repo, { create: true });
  const segments = [
    await sealSegment(header('app', '0/1000000', '0/1000000'), []), // the chain's opening segment
    await transaction('app', '0/1000000', '0/1000100', '4294967301', 1),
    await transaction('app', '0/1000100', '0/1000200', '4294967302'),
    await sealSegment(header('other', '0/1000000', '0/1000000'), []),
  ];
  // What the archiver records as it writes them.
  const recorder = segmentRecorder(ctx.catalog);
  for (const segment of segments) {
    await writeSegment(ctx.storage, segment);
    await recorder(segment);
  }
  const written = { app: await ctx.catalog.listSegments('app'), other: await ctx.catalog.listSegments('other') };
  expect(written.app).toHaveLength(3);
  expect(written.app[2]).toMatchObject({ xids: { min: '4294967302', max: '4294967302' }, endLsn: '0/1000200' });

  // Someone with write access to the repository but not the key signs a segment with another key;
  // another segment, sealed with the key, holds records that fail their checksum.
  const forgedPlace = { collection: 'app', chain: CHAIN, afterLsn: '0/1000200', part: 0 };
  const forged = await transaction('app', '0/1000200', '0/1000300', '4294967303');
  const otherKey = RepositoryKey.parse('cd'.repeat(32), 'another key');
  await writeFile(
    join(repo, layout.segment('app', CHAIN, '0/1000200', 0)),
    Buffer.from(await encodeDocument(segmentKind, forgedPlace, forged, otherKey)),
  );
  const sound = await transaction('other', '0/1000000', '0/1000100', '4294967310', 1);
  await writeSegment(ctx.storage, { ...sound, payload: { ...sound.payload, sha256: '0'.repeat(64) } });

  await rm(join(repo, 'catalog'), { recursive: true, force: true });
  const fresh = await openLocalContext(repo, { create: false });
  expect(await fresh.catalog.listSegments('app')).toEqual([]);
  const report = await rebuildCatalog(fresh);
  expect(report.segmentsImported).toBe(4);
  expect(report.damaged.map((d) => d.object)).toEqual([
    layout.segment('app', CHAIN, '0/1000200', 0),
    layout.segment('other', CHAIN, '0/1000000', 1),
  ]);
  expect(report.damaged[0]!.problem).toMatch(/was authenticated with another key/);
  expect(report.damaged[1]!.problem).toMatch(/fail their checksum/);
  expect(await fresh.catalog.listSegments('app')).toEqual(written.app);
  expect(await fresh.catalog.listSegments('other')).toEqual(written.other);

  // Again: everything is present; the damaged ones are still named.
  const again = await rebuildCatalog(fresh);
  expect(again.segmentsImported).toBe(0);
  expect(again.alreadyPresent).toBeGreaterThanOrEqual(4);
  expect(again.damaged).toHaveLength(2);
});
