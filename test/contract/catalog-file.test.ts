import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCatalog } from '#adapters/file-catalog.ts';
import { CatalogConflictError, InvalidKeyError } from '#core/errors.ts';
import { backupRecord, catalogContract } from './catalog-contract.ts';

catalogContract('FileCatalog', async () => {
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
});
