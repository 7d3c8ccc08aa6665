import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCatalog } from '#adapters/file-catalog.ts';
import { CatalogConflictError, IntegrityError, InvalidKeyError } from '#core/errors.ts';
import { catalogRulesContract } from './catalog-contract-rules.ts';
import { backupRecord, catalogContract } from './catalog-contract.ts';
import { segmentCatalogContract } from './catalog-segments-contract.ts';

catalogContract('FileCatalog', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-file-catalog-'));
  return { catalog: new FileCatalog(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

catalogRulesContract('FileCatalog', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-file-catalog-'));
  return { catalog: new FileCatalog(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

segmentCatalogContract('FileCatalog', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-file-catalog-'));
  return { catalog: new FileCatalog(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('FileCatalog on disk', () => {
  let dir: string;
  let catalog: FileCatalog;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tidemark-file-catalog-'));
    catalog = new FileCatalog(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps each item as numbered write-once versions', async () => {
    await catalog.createBackup(backupRecord('b1'));
    await catalog.finishBackup('b1', { state: 'committed' });
    const itemDir = join(dir, 'backups', 'b1');
    expect(await readdir(itemDir)).toEqual(['000001.json', '000002.json']);
    expect(JSON.parse(await readFile(join(itemDir, '000001.json'), 'utf8')).state).toBe('running');
  });

  it('ignores a half-written version (a temp file left by a killed writer)', async () => {
    await catalog.createBackup(backupRecord('b1'));
    await writeFile(join(dir, 'backups', 'b1', '.tmp-0123456789abcdef'), '{"backupId":"b1","state":"comm');
    expect(await catalog.getBackup('b1')).toEqual(backupRecord('b1'));
    expect(await catalog.listBackups()).toEqual([backupRecord('b1')]);
    expect((await catalog.finishBackup('b1', { state: 'committed' })).state).toBe('committed');
  });

  it('treats an item whose first version never landed as absent', async () => {
    await mkdir(join(dir, 'backups', 'b1'), { recursive: true });
    await writeFile(join(dir, 'backups', 'b1', '.tmp-0123456789abcdef'), '{"backupId"');
    expect(await catalog.getBackup('b1')).toBeUndefined();
    expect(await catalog.listBackups()).toEqual([]);
    await catalog.createBackup(backupRecord('b1'));
    expect(await catalog.getBackup('b1')).toEqual(backupRecord('b1'));
  });

  it('two catalogs on one directory race like two processes: one state wins', async () => {
    await catalog.createBackup(backupRecord('b1'));
    const other = new FileCatalog(dir);
    const results = await Promise.allSettled([
      catalog.finishBackup('b1', { state: 'committed' }),
      other.finishBackup('b1', { state: 'failed' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const loser = results.find((r) => r.status === 'rejected');
    expect(loser?.reason).toBeInstanceOf(CatalogConflictError);
  });

  it('rejects ids that are not safe directory names', async () => {
    for (const id of ['', '..', '../x', 'a/b', '.hidden', 'a\\b']) {
      await expect(catalog.createBackup(backupRecord(id)), id).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(catalog.getBackup(id), id).rejects.toBeInstanceOf(InvalidKeyError);
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it('a damaged item is unreadable alone, named by its file; a create writes the next version over it', async () => {
    await catalog.createBackup(backupRecord('b1'));
    await catalog.createBackup(backupRecord('b2'));
    const file = join(dir, 'backups', 'b1', '000001.json');
    await writeFile(file, '{"backupId":"b1","sta');
    await expect(catalog.getBackup('b1')).rejects.toThrow(`Catalog file ${file} is damaged`);
    await expect(catalog.getBackup('b1')).rejects.toBeInstanceOf(IntegrityError);
    // A move needs the current state: it refuses to guess.
    await expect(catalog.finishBackup('b1', { state: 'failed' })).rejects.toBeInstanceOf(IntegrityError);
    expect((await catalog.listBackups()).map((b) => b.backupId)).toEqual(['b2']);
    expect(await catalog.unreadableItems()).toEqual([expect.stringContaining(file)]);
    // What `catalog rebuild` does: create it again from the repository.
    await catalog.importBackup(backupRecord('b1', { state: 'committed' }));
    expect(await readdir(join(dir, 'backups', 'b1'))).toEqual(['000001.json', '000002.json']);
    expect((await catalog.getBackup('b1'))?.state).toBe('committed');
    expect(await catalog.unreadableItems()).toEqual([]);
  });

  it('a damaged lease names no holder that could release it: it is free to take', async () => {
    const lease = {
      name: 'maintenance',
      owner: 'a',
      purpose: 'gc',
      acquiredAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T10:05:00.000Z',
    };
    await catalog.acquireLease(lease, new Date('2025-03-01T10:00:00.000Z'));
    await writeFile(join(dir, 'leases', 'maintenance', '000001.json'), '');
    expect(await catalog.acquireLease({ ...lease, owner: 'b' }, new Date('2025-03-01T10:01:00.000Z'))).toBeUndefined();
    expect((await catalog.getLease('maintenance'))?.owner).toBe('b');
  });

  it('a release writes a last version marked released (files are never deleted), as catalogs written before read it', async () => {
    const lease = {
      name: 'maintenance',
      owner: 'a',
      purpose: 'gc',
      acquiredAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T10:05:00.000Z',
    };
    await catalog.acquireLease(lease, new Date('2025-03-01T10:00:00.000Z'));
    await catalog.releaseLease('maintenance', 'a');
    const leaseDir = join(dir, 'leases', 'maintenance');
    expect(await readdir(leaseDir)).toEqual(['000001.json', '000002.json']);
    expect(JSON.parse(await readFile(join(leaseDir, '000002.json'), 'utf8'))).toEqual({ ...lease, released: true });
    expect(await catalog.getLease('maintenance')).toBeUndefined();
    // The reserve for lease writes on a full disk is in place.
    expect((await readdir(join(dir, 'leases'))).sort()).toEqual(['.reserve', 'maintenance']);
  });
});
