// Segment records (src/core/ports/segment-catalog.ts), pinned on every backend: idempotent
// record, a conflict for other content at one place, and lists in LSN order by collection and
// chain. Run beside catalog-contract.ts by each backend's test file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogConflictError } from '#core/errors.ts';
import type { BackupCatalog } from '#core/ports/catalog.ts';
import type { SegmentRecord } from '#core/ports/segment-catalog.ts';
import type { CatalogFixture } from './catalog-contract.ts';

const CHAIN_A = '0000000000A00000';
const CHAIN_B = '0000000100000000';

export const segmentRecord = (
  collection: string,
  chain: string,
  afterLsn: string,
  part = 0,
  more: Partial<SegmentRecord> = {},
): SegmentRecord => ({
  collection,
  chain,
  afterLsn,
  part,
  endLsn: afterLsn,
  openAtEnd: false,
  transactions: 2,
  changes: 10,
  firstCommit: { xid: '4294967301', lsn: '0/A000100', time: '2026-12-06T10:00:00.000001Z' },
  lastCommit: { xid: '4294967299', lsn: '0/A000200', time: '2026-12-06T10:00:01.000002Z' },
  xids: { min: '4294967299', max: '4294967301' },
  bytes: 1200,
  storedBytes: 300,
  key: `segments/${collection}/${chain}/${afterLsn}-${part}.json`,
  sealedAt: '2026-12-06T10:00:02.000Z',
  ...more,
});

export function segmentCatalogContract(name: string, make: () => Promise<CatalogFixture>): void {
  describe(`SegmentCatalog contract: ${name}`, () => {
    let catalog: BackupCatalog;
    let fixture: CatalogFixture;
    beforeEach(async () => {
      fixture = await make();
      catalog = fixture.catalog;
    });
    afterEach(() => fixture.cleanup());

    it('records a segment and lists it back field for field', async () => {
      const record = segmentRecord('app', CHAIN_A, '0/A000000');
      await catalog.recordSegment(record);
      expect(await catalog.listSegments('app')).toEqual([record]);
      expect(await catalog.listSegments('app', CHAIN_A)).toEqual([record]);
    });

    it('the identical record again is a rerun (no error, one record); other content at the same place is a conflict', async () => {
      const record = segmentRecord('app', CHAIN_A, '0/A000000', 1);
      await catalog.recordSegment(record);
      await catalog.recordSegment({ ...record });
      await expect(catalog.recordSegment({ ...record, changes: 11 })).rejects.toThrow(CatalogConflictError);
      await expect(catalog.recordSegment({ ...record, changes: 11 })).rejects.toThrow(
        /segment app:0000000000A00000:00000000\w+:0001 .*two archivers wrote this chain/,
      );
      expect(await catalog.listSegments('app')).toEqual([record]);
    });

    it('lists in LSN order (chain, afterLsn as a number, part), by collection and by chain', async () => {
      // Written out of order; the LSNs differ in text width, so text order is not LSN order.
      const ordered = [
        segmentRecord('app', CHAIN_A, '0/A00000'),
        segmentRecord('app', CHAIN_A, '0/FFFFFF'),
        segmentRecord('app', CHAIN_A, '0/1000000', 0, { openAtEnd: true }),
        segmentRecord('app', CHAIN_A, '0/1000000', 1, { openAtEnd: true }),
        segmentRecord('app', CHAIN_A, '0/1000000', 2),
        segmentRecord('app', CHAIN_A, '1/0'),
        segmentRecord('app', CHAIN_B, '1/0'),
        segmentRecord('app', CHAIN_B, '1/20'),
      ];
      for (const i of [5, 2, 7, 0, 4, 6, 1, 3]) await catalog.recordSegment(ordered[i]!);
      // Collections whose names start alike are not mixed in.
      await catalog.recordSegment(segmentRecord('app-2', CHAIN_A, '0/A00000'));
      await catalog.recordSegment(segmentRecord('ap', CHAIN_A, '0/A00000'));
      const place = (r: SegmentRecord) => `${r.chain} ${r.afterLsn} ${r.part}`;
      expect((await catalog.listSegments('app')).map(place)).toEqual(ordered.map(place));
      expect((await catalog.listSegments('app', CHAIN_B)).map(place)).toEqual(ordered.slice(6).map(place));
      expect((await catalog.listSegments('app-2')).map(place)).toEqual([`${CHAIN_A} 0/A00000 0`]);
      expect(await catalog.listSegments('nothing-here')).toEqual([]);
      // The archiver's hint where the archive ends: the last in LSN order, of that collection only.
      expect(place((await catalog.lastSegment('app'))!)).toBe(`${CHAIN_B} 1/20 0`);
      expect(await catalog.lastSegment('ap')).toEqual(segmentRecord('ap', CHAIN_A, '0/A00000'));
      expect(await catalog.lastSegment('nothing-here')).toBeUndefined();
    });

    it('segment records are not backups, collections or restores', async () => {
      await catalog.recordSegment(segmentRecord('app', CHAIN_A, '0/A000000'));
      expect(await catalog.listBackups()).toEqual([]);
      expect(await catalog.listCollections()).toEqual([]);
      expect(await catalog.listRunningBackups()).toEqual([]);
    });
  });
}
