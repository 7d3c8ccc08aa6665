// Issue 11: a repository written without a key (by a Tidemark before authenticated documents, or
// with no key set) is refused once a key is set — its marker names none — so after an upgrade
// that sets the key, nothing in it can be restored; without the key, everything in it is used
// unauthenticated. `tidemark repository seal` is the way over: with the key, every intact document
// gets a MAC, a damaged one is named and left alone, and the marker names the key, after which a
// document without a MAC is refused. Idempotent; a seal killed between removing a document and
// writing it again is finished by the next.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { describeResult } from '../support/cli.ts';
import { buildCliBundle, runAndKill } from '../support/cli-bundle.ts';
import { tempRepository } from '../support/pipeline.ts';

const KEY = 'ab'.repeat(32);
let pg: PostgresServer;
let repo: string;
let first: string;
let second: string;
let targets = 0;

const cli = (args: string[], key?: string) =>
  runAndKill([...args, '--repo', repo, '--json'], 120_000, { env: key ? { TIDEMARK_KEY: key } : {} });

/** A document's header line and body bytes. */
async function readDocument(key: string): Promise<{ header: Record<string, unknown>; body: Buffer }> {
  const bytes = await readFile(join(repo, key));
  const nl = bytes.indexOf(10);
  return { header: JSON.parse(bytes.subarray(0, nl).toString('utf8')), body: bytes.subarray(nl + 1) };
}

async function writeHeader(key: string, header: Record<string, unknown>, body: Buffer): Promise<void> {
  await writeFile(join(repo, key), Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), body]));
}

async function restoreLatest(key?: string) {
  const target = `sealed_target_${++targets}`;
  return { target, result: await cli(['restore', 'latest', '--target', pg.url(target)], key) };
}

beforeAll(async () => {
  buildCliBundle();
  [pg, repo] = await Promise.all([startPostgres({ major: 15 }), tempRepository()]);
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE items (id int PRIMARY KEY, note text);
     INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 5000) g;`,
    'shop',
  );
  // The old way: no key anywhere, so no document carries a MAC.
  const created = await cli(['collection', 'create', 'nightly', '--source', pg.url('shop'), '--keep-last', '1']);
  expect(created.code, describeResult(created)).toBe(0);
  const b1 = await cli(['backup', '--collection', 'nightly', '--source', pg.url('shop')]);
  expect(b1.code, describeResult(b1)).toBe(0);
  await pg.sql(`UPDATE items SET note = 'changed' WHERE id % 10 = 0`, 'shop');
  const b2 = await cli(['backup', '--collection', 'nightly', '--source', pg.url('shop')]);
  expect(b2.code, describeResult(b2)).toBe(0);
  [first, second] = [b1.json.backupId, b2.json.backupId];
  const expired = await cli(['expire']);
  expect(expired.code, describeResult(expired)).toBe(0);
  // The latest backup as a Tidemark before commit markers and bound headers wrote it: its manifest
  // header names no key, and there is no committed.json (checksum still intact).
  const { header, body } = await readDocument(`backups/${second}/manifest.json`);
  delete header.key;
  await writeHeader(`backups/${second}/manifest.json`, header, body);
  await rm(join(repo, 'backups', second, 'committed.json'));
  // A damaged document: a collection whose body no longer matches its checksum.
  const nightly = await readFile(join(repo, 'collections', 'nightly.json'), 'utf8');
  await writeFile(join(repo, 'collections', 'broken.json'), nightly.replace('"nightly"', '"nightlx"'));
}, 180_000);

afterAll(async () => {
  await pg?.stop();
  if (repo) await rm(join(repo, '..'), { recursive: true, force: true });
});

describe('a repository written without a key', () => {
  it('today: refused as soon as a key is set; used unauthenticated without one', async () => {
    for (const doc of [`backups/${first}/manifest.json`, `backups/${first}/expired.json`, 'collections/nightly.json'])
      expect((await readDocument(doc)).header.mac, doc).toBeUndefined();
    const withKey = await restoreLatest(KEY);
    expect(withKey.result.code, describeResult(withKey.result)).not.toBe(0);
    expect(withKey.result.stdout + withKey.result.stderr).toMatch(/created without a repository key/);
    const withoutKey = await restoreLatest();
    expect(withoutKey.result.code, describeResult(withoutKey.result)).toBe(0);
    expect(withoutKey.result.json.backupId).toBe(second);
  });

  it('repository seal is refused without a key', async () => {
    const sealed = await cli(['repository', 'seal']);
    expect(sealed.code).not.toBe(0);
    expect(sealed.json.ok).toBe(false);
    expect(sealed.json.error.message).toMatch(/needs the repository key.*TIDEMARK_KEY/);
    expect((await readDocument('tidemark.json')).header.mac).toBeUndefined();
  });

  it('seals every intact document, names the damaged one, and the marker then names the key', async () => {
    const sealed = await cli(['repository', 'seal'], KEY);
    expect(sealed.code, describeResult(sealed)).toBe(0);
    expect(sealed.json).toMatchObject({ ok: true, markerSealed: true, alreadySealed: 0 });
    expect(sealed.json.sealed).toEqual(
      expect.arrayContaining([
        `backups/${first}/manifest.json`,
        `backups/${first}/committed.json`,
        `backups/${first}/expired.json`,
        `backups/${second}/manifest.json`,
        'collections/nightly.json',
      ]),
    );
    expect(sealed.json.refused).toEqual([
      {
        key: 'collections/broken.json',
        problem: expect.stringMatching(/collections\/broken\.json fails its checksum/),
      },
    ]);
    expect((await readDocument('collections/broken.json')).header.mac).toBeUndefined();
    const marker = await readDocument('tidemark.json');
    expect(marker.header.mac).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(marker.body.toString()).keyId).toBe(sealed.json.keyId);
    // The pre-commit-marker manifest keeps its header without a key, so it still counts as committed.
    const manifest = await readDocument(`backups/${second}/manifest.json`);
    expect(manifest.header.key).toBeUndefined();
    expect(manifest.header.repository).toBe(sealed.json.repositoryId);
    // No sealed copy is left (the storage may leave empty directories).
    const copies = await readdir(join(repo, 'sealing'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(copies.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);

    // Idempotent: a second seal changes nothing.
    const again = await cli(['repository', 'seal'], KEY);
    expect(again.code, describeResult(again)).toBe(0);
    expect(again.json).toMatchObject({ sealed: [], markerSealed: false, alreadySealed: sealed.json.sealed.length });
  });

  it('with the key, the sealed repository restores, verifies and keeps its restore points through gc', async () => {
    const { target, result } = await restoreLatest(KEY);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json).toMatchObject({ ok: true, backupId: second, verified: true });
    const [source, restored] = await Promise.all([
      pg.sql(`SELECT md5(string_agg(i::text, ',' ORDER BY id)) AS h FROM items i`, 'shop'),
      pg.sql(`SELECT md5(string_agg(i::text, ',' ORDER BY id)) AS h FROM items i`, target),
    ]);
    expect(restored.rows[0]).toEqual(source.rows[0]);
    const gc = await cli(['gc'], KEY);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json).toMatchObject({ chunksMissing: [], orphanManifestsRemoved: [] });
    expect(gc.json.manifestsRemoved).toEqual([first]);
    const verify = await cli(['verify', second], KEY);
    expect(verify.code, describeResult(verify)).toBe(0);
    // Without the key it no longer opens.
    const withoutKey = await cli(['list']);
    expect(withoutKey.code).not.toBe(0);
    expect(withoutKey.json.error.message).toMatch(/authenticates its documents with a repository key/);
  });

  it('a MAC stripped after the seal is refused, and an interrupted seal is finished by the next', async () => {
    const key = `backups/${second}/manifest.json`;
    const original = await readFile(join(repo, key));
    const { header, body } = await readDocument(key);
    delete header.mac;
    delete header.keyId;
    await writeHeader(key, header, body);
    const verify = await cli(['verify', second], KEY);
    expect(verify.code).not.toBe(0);
    expect(verify.json.error.message).toMatch(/manifest\.json carries no authentication/);
    // A seal does not bless it: the repository is sealed, so a document without a MAC is suspect.
    const refused = await cli(['repository', 'seal'], KEY);
    expect(refused.code, describeResult(refused)).toBe(0);
    expect(refused.json.sealed).toEqual([]);
    expect(refused.json.refused.map((r: { key: string }) => r.key)).toContain(key);
    expect((await readDocument(key)).header.mac).toBeUndefined();
    // A seal killed after it removed the document: only its sealed copy is left.
    await rm(join(repo, key));
    await mkdir(dirname(join(repo, 'sealing', key)), { recursive: true });
    await writeFile(join(repo, 'sealing', key), original);
    const resealed = await cli(['repository', 'seal'], KEY);
    expect(resealed.code, describeResult(resealed)).toBe(0);
    expect(await readFile(join(repo, key))).toEqual(original);
    const copies = await readdir(join(repo, 'sealing'), { recursive: true, withFileTypes: true });
    expect(copies.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    const after = await cli(['verify', second], KEY);
    expect(after.code, describeResult(after)).toBe(0);
  });
});
