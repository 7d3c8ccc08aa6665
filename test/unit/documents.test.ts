// The document registry: every read checks the schema and that the document is where it says it
// belongs (issue 11, findings 4 and 5: a manifest or tombstone copied to another backup).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSystemStorage } from '#adapters/fs-storage.ts';
import { readDocument, writeDocument } from '#core/repository/documents.ts';
import { collectionKind, manifestKind, tombstoneKind } from '#core/repository/document-formats.ts';
import { encodeManifest, readManifest, type Manifest } from '#core/repository/manifest.ts';
import { readTombstone, writeTombstone } from '#core/maintenance/tombstone.ts';
import { sealDocument } from '#core/repository/sealed-document.ts';
import { layout } from '#core/repository/layout.ts';
import { RepositoryKey, authenticateWith } from '#core/repository/repository-key.ts';
import { createHash } from 'node:crypto';

const A = '20261201T000000Z-aaaaaa';
const B = '20261202T000000Z-bbbbbb';

function manifest(backupId: string): Manifest {
  return {
    backupId,
    parent: null,
    collection: 'nightly',
    startedAt: '2026-12-01T00:00:00.000Z',
    committedAt: '2026-12-01T00:00:01.000Z',
    source: {
      description: 'h:5432/db',
      serverVersion: '15.1',
      serverVersionNum: 150001,
      systemIdentifier: '1',
      database: 'db',
    },
    snapshot: { time: '2026-12-01T00:00:00.000Z', lsn: '0/1' },
    codec: 'zstd-3',
    schema: {
      serverVersionNum: 150001,
      preData: [],
      postData: [],
      tables: [],
      sequences: [],
      materializedViews: [],
      warnings: [],
    },
    tables: [],
    stats: { tables: 0, rows: 0, bytesRead: 0, bytesStored: 0, bytesReferenced: 0, chunks: 0 },
    warnings: [],
  };
}

let dir: string;
let storage: FileSystemStorage;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tidemark-documents-'));
  storage = new FileSystemStorage(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('document registry', () => {
  it('round-trips a manifest and keeps fields it does not know', async () => {
    const m = { ...manifest(A), futureField: { x: 1 } } as Manifest;
    await storage.putIfAbsent(layout.manifest(A), encodeManifest(m));
    expect(await readManifest(storage, A)).toEqual(m);
  });

  it("A's manifest copied to B's place is refused, naming the object", async () => {
    await storage.putIfAbsent(layout.manifest(B), await storage.get(layout.manifest(A)));
    await expect(readManifest(storage, B)).rejects.toThrow(
      /Manifest backups\/20261202T000000Z-bbbbbb\/manifest\.json was written as backups\/20261201T000000Z-aaaaaa\/manifest\.json/,
    );
  });

  it('a manifest whose header names no key (older writer) is still bound by the id it holds', async () => {
    const C = '20261203T000000Z-cccccc';
    await storage.putIfAbsent(layout.manifest(C), sealDocument(manifestKind.format, manifest(A)));
    await expect(readManifest(storage, C)).rejects.toThrow(
      /manifest\.json says backupId "20261201T000000Z-aaaaaa" \(its key says "20261203T000000Z-cccccc"\)/,
    );
  });

  it('a tombstone copied next to another backup is refused', async () => {
    await writeTombstone(storage, { backupId: A, collection: 'nightly', expiredAt: '2026-12-05T00:00:00.000Z' });
    await storage.putIfAbsent(layout.backupExpired(B), await storage.get(layout.backupExpired(A)));
    await expect(readTombstone(storage, B)).rejects.toThrow(
      /Tombstone backups\/20261202T000000Z-bbbbbb\/expired\.json was written as/,
    );
    expect((await readTombstone(storage, A)).backupId).toBe(A);
  });

  it('a document that passes its checksum but not its schema is refused, naming the field', async () => {
    const D = '20261204T000000Z-dddddd';
    const bad = {
      ...manifest(D),
      tables: [
        {
          schema: 'public',
          name: 't',
          columns: [],
          format: 'text',
          rows: 1,
          checksum: '',
          bytes: 1,
          chunks: [{ id: '../../etc', size: 1, storedSize: 1, rows: 1 }],
        },
      ],
    };
    await storage.putIfAbsent(layout.manifest(D), sealDocument(manifestKind.format, bad, layout.manifest(D)));
    await expect(readManifest(storage, D)).rejects.toThrow(
      /not a valid tidemark-manifest: tables\.0\.chunks\.0\.id: not a chunk id/,
    );
  });

  it('a writer cannot put a document where its body says it does not belong', async () => {
    await expect(
      writeDocument(
        storage,
        collectionKind,
        { name: 'other' },
        { name: 'nightly', createdAt: 'x', source: 's', sourceDescription: 's', retention: {} },
      ),
    ).rejects.toThrow(/bug in the caller/);
    await expect(readDocument(storage, tombstoneKind, { backupId: '20261209T000000Z-000000' })).rejects.toThrow(
      /missing/,
    );
  });
});

describe('authenticated documents (repository key)', () => {
  const key = RepositoryKey.parse('11'.repeat(32), 'test key');
  const other = RepositoryKey.parse('22'.repeat(32), 'other key');
  const E = '20261205T000000Z-eeeeee';
  let keyed: FileSystemStorage;
  beforeAll(async () => {
    keyed = new FileSystemStorage(join(dir, 'keyed'));
    authenticateWith(keyed, key);
    await writeDocument(keyed, manifestKind, { backupId: E }, manifest(E));
  });

  it('a document written with the key reads back with it', async () => {
    expect((await readManifest(keyed, E)).backupId).toBe(E);
  });

  it('edited and re-sealed (checksum recomputed, as FORMAT.md describes), it does not authenticate', async () => {
    const text = Buffer.from(await keyed.get(layout.manifest(E))).toString('utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n')));
    const forgedBody = JSON.stringify({ ...manifest(E), warnings: ['forged'] });
    header.bodySha256 = createHash('sha256').update(forgedBody).digest('hex');
    header.bodyBytes = Buffer.byteLength(forgedBody);
    const forged = new FileSystemStorage(join(dir, 'forged'));
    authenticateWith(forged, key);
    await forged.putIfAbsent(layout.manifest(E), Buffer.from(`${JSON.stringify(header)}\n${forgedBody}`));
    await expect(readManifest(forged, E)).rejects.toThrow(
      /Manifest backups\/20261205T000000Z-eeeeee\/manifest\.json does not authenticate/,
    );
  });

  it('written without the key, or with another key, it is refused', async () => {
    const unkeyed = new FileSystemStorage(join(dir, 'unkeyed'));
    await unkeyed.putIfAbsent(layout.manifest(E), encodeManifest(manifest(E)));
    authenticateWith(unkeyed, key);
    await expect(readManifest(unkeyed, E)).rejects.toThrow(/carries no authentication/);
    const foreign = new FileSystemStorage(join(dir, 'foreign'));
    authenticateWith(foreign, other);
    await writeDocument(foreign, manifestKind, { backupId: E }, manifest(E));
    authenticateWith(foreign, key);
    await expect(readManifest(foreign, E)).rejects.toThrow(
      new RegExp(`authenticated with another key \\(key id ${other.id}; this repository's key is ${key.id}\\)`),
    );
  });

  it('read where no key is set, an authenticated document is refused, saying which key to set (never used unchecked)', async () => {
    const plain = new FileSystemStorage(join(dir, 'keyed'));
    await expect(readManifest(plain, E)).rejects.toThrow(
      new RegExp(`authenticated with repository key ${key.id}, and no key is set here.*TIDEMARK_KMS_MAC_KEY_ARN`),
    );
  });

  it('the MAC covers the place: a document moved to another key does not authenticate there either', async () => {
    const moved = new FileSystemStorage(join(dir, 'moved'));
    authenticateWith(moved, key);
    const F = '20261206T000000Z-ffffff';
    const bytes = Buffer.from(await keyed.get(layout.manifest(E)))
      .toString('utf8')
      .replace(`"key":"${layout.manifest(E)}"`, `"key":"${layout.manifest(F)}"`);
    await moved.putIfAbsent(layout.manifest(F), Buffer.from(bytes));
    await expect(readManifest(moved, F)).rejects.toThrow(/does not authenticate/);
  });
});
