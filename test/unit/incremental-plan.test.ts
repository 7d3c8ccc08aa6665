// When a collection backup may read a table against its parent (FORMAT.md, "Incremental backups").
import { describe, expect, it } from 'vitest';
import { parentTableFor, parentUsable, MAX_LAYERS } from '#core/backup/incremental-plan.ts';
import type { Manifest, ManifestTable } from '#core/repository/manifest.ts';

const table: ManifestTable = {
  schema: 'public',
  name: 'items',
  columns: ['id', 'v'],
  format: 'binary',
  rowType: 'bigint,text',
  identity: 'i1',
  rows: 10,
  checksum: '',
  bytes: 1000,
  chunks: [],
  keyIndex: { column: 'id', count: 10, chunks: [] },
};
const parent = {
  backupId: 'p',
  snapshot: { time: '', lsn: '0/5000000', xmin: '1000' },
  tables: [table],
  source: {
    description: '',
    serverVersion: '15.18',
    serverVersionNum: 150018,
    systemIdentifier: '7001',
    database: 'shop',
    timeline: '00000001',
  },
} as unknown as Manifest;
const here = {
  snapshotXmax: '5000',
  systemIdentifier: '7001',
  database: 'shop',
  serverVersion: '15.18',
  timeline: '00000001',
  lsn: '0/6000000',
};
const facts = { bytes: 1000, format: 'binary' as const, rowType: 'bigint,text', key: 'id', identity: 'i1' };
const data = { schema: 'public', name: 'items', columns: ['id', 'v'] };

describe('incremental plan', () => {
  it('uses a parent from the same cluster and database, with transaction ids close enough', () => {
    expect(parentUsable(parent, here)).toBe(true);
    expect(parentUsable(parent, { ...here, systemIdentifier: '' })).toBe(true);
    expect(parentUsable(parent, { ...here, systemIdentifier: '9999' })).toBe(false);
    expect(parentUsable(parent, { ...here, database: 'other' })).toBe(false);
    expect(parentUsable(parent, { ...here, snapshotXmax: '999' })).toBe(false);
    expect(parentUsable(parent, { ...here, snapshotXmax: String(1000 + 2 ** 31) })).toBe(false);
    expect(parentUsable(parent, { ...here, serverVersion: '11.2-YB-2.20.0.0-b0' })).toBe(false);
    expect(parentUsable({ ...parent, snapshot: { time: '', lsn: null } }, here)).toBe(false);
    // A point-in-time recovery: a new timeline, or the WAL position gone back.
    expect(parentUsable(parent, { ...here, timeline: '00000002' })).toBe(false);
    expect(parentUsable(parent, { ...here, timeline: undefined })).toBe(true);
    expect(parentUsable(parent, { ...here, lsn: '0/4FFFFFF' })).toBe(false);
    expect(parentUsable(parent, { ...here, lsn: '1/0' })).toBe(true);
  });

  it('reads a table against its parent entry only when the rows have the same shape', () => {
    expect(parentTableFor(parent, data, facts, 'binary')).toBe(table);
    expect(parentTableFor(parent, { ...data, name: 'other' }, facts, 'binary')).toBeUndefined();
    expect(parentTableFor(parent, data, { ...facts, rowType: 'bigint,varchar' }, 'binary')).toBeUndefined();
    expect(parentTableFor(parent, data, facts, 'text')).toBeUndefined();
    expect(parentTableFor(parent, { ...data, columns: ['id', 'w'] }, facts, 'binary')).toBeUndefined();
    expect(parentTableFor(parent, data, { ...facts, key: null }, 'binary')).toBeUndefined();
    expect(parentTableFor(parent, data, { ...facts, identity: 'i2' }, 'binary')).toBeUndefined();
  });

  it('exports a table whole again once its layers pile up', () => {
    const layer = {
      backupId: 'x',
      removedRows: 0,
      removedKeys: [],
      chunks: [],
      rows: 1,
      checksum: '',
      bytes: 10,
      rowsAfter: 10,
    };
    const withLayers = (n: number, bytes = 10) =>
      ({
        ...parent,
        tables: [{ ...table, layers: Array.from({ length: n }, () => ({ ...layer, bytes })) }],
      }) as Manifest;
    expect(parentTableFor(withLayers(MAX_LAYERS - 1), data, facts, 'binary')).toBeDefined();
    expect(parentTableFor(withLayers(MAX_LAYERS), data, facts, 'binary')).toBeUndefined();
    expect(parentTableFor(withLayers(2, 600), data, facts, 'binary')).toBeUndefined();
  });
});
