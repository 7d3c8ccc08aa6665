// Issue 11, acceptance: every kind of forged repository document — edited and re-sealed, moved to
// another id, replayed, signed with another key — is refused by name on every read path, and
// nothing acts on it. One keyed repository (a collection of two backups, the second incremental)
// is copied for each case; the command line runs in this process (runCliInProcess: no start-up).
import { EMPTY_SEGMENT, EMPTY_SEGMENT_PLACE } from '#test/support/segment-document.ts';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { describeResult, runCliInProcess, type CliResult } from '../support/cli.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { decodeDocument, encodeDocument, type DocumentKind, type Place } from '#core/repository/documents.ts';
import * as formats from '#core/repository/document-formats.ts';
import { RepositoryKey } from '#core/repository/repository-key.ts';
import { layout } from '#core/repository/layout.ts';
import { newRunId } from '#core/ids.ts';

const KEY = 'ab'.repeat(32);
const OTHER_KEY = 'cd'.repeat(32);
const key = RepositoryKey.parse(KEY, 'test key');
const otherKey = RepositoryKey.parse(OTHER_KEY, 'other test key');

let pg: PostgresServer;
let base: string;
let scratch: string;
/** Oldest first: A (full), then B (incremental on A), both in collection `nightly` (keep-last 1). */
let A: string;
let B: string;
let copies = 0;

const cli = async (...args: string[]): Promise<CliResult> => runCliInProcess([...args, '--json']);
const source = () => pg.url('shop');

/** `tidemark backup` into collection nightly: incremental on its latest backup. */
const backupInto = (repo: string) =>
  cli('backup', '--collection', 'nightly', '--source', source(), '--repo', repo, '--chunk-bytes', String(16 * 1024));

async function copyOfBase(): Promise<string> {
  const repo = join(scratch, `copy-${++copies}`);
  await cp(base, repo, { recursive: true });
  return repo;
}

// --- Forgeries, as someone with write access to the repository but not the key makes them ---

function split(bytes: Buffer): { header: any; body: any } {
  const nl = bytes.indexOf(10);
  return { header: JSON.parse(bytes.subarray(0, nl).toString()), body: JSON.parse(bytes.subarray(nl + 1).toString()) };
}

/** The header's checksum and length recomputed as FORMAT.md describes; the MAC as `mac` says. */
function reseal(header: any, body: unknown, mac: 'left' | 'wrong key' | 'removed'): Buffer {
  const text = JSON.stringify(body);
  const next = {
    ...header,
    bodySha256: createHash('sha256').update(text).digest('hex'),
    bodyBytes: Buffer.byteLength(text),
  };
  if (mac === 'removed') {
    delete next.mac;
    delete next.keyId;
  }
  if (mac === 'wrong key') {
    const message = JSON.stringify([
      next.format,
      next.formatVersion,
      next.key ?? null,
      next.bodySha256,
      next.bodyBytes,
    ]);
    next.mac = createHash('sha256').update(`not the key${message}`).digest('hex');
  }
  return Buffer.concat([Buffer.from(`${JSON.stringify(next)}\n`), Buffer.from(text)]);
}

/** Content changed: a field added (schemas let unknown fields through, so only the MAC can tell). */
function edited(body: any): any {
  if (Array.isArray(body)) return [...body, body[0]];
  return { ...body, forged: true };
}

const signedWithOtherKey = <T, P extends Place>(kind: DocumentKind<T, P>, place: P, body: T) =>
  encodeDocument(kind, place, body, otherKey).then(Buffer.from);

async function chunkFiles(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'chunks'), { recursive: true })).filter((f) => f.includes('/')).sort();
}

async function backupFiles(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'backups'), { recursive: true })).sort();
}

function refusedNaming(r: CliResult, ...texts: string[]): void {
  expect(r.code, describeResult(r)).toBe(1);
  const message = r.json?.error?.message ?? r.stderr;
  for (const text of texts) expect(message, describeResult(r)).toContain(text);
}

async function databaseExists(name: string): Promise<boolean> {
  const result = await pg.sql(`SELECT count(*)::int AS n FROM pg_database WHERE datname = '${name}'`);
  return result.rows[0].n === 1;
}

beforeAll(async () => {
  for (const k of Object.keys(process.env)) if (k.startsWith('TIDEMARK_')) delete process.env[k];
  process.env.TIDEMARK_KEY = KEY;
  [pg, base] = await Promise.all([startPostgres({ major: 15 }), tempRepository()]);
  scratch = join(base, '..');
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigint PRIMARY KEY, product_id int, note text);
     INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 1000) g;
     INSERT INTO orders SELECT g, 1 + g % 1000, repeat(md5(g::text), 3) FROM generate_series(1, 2000) g;`,
    'shop',
  );
  for (const [name, keep] of [
    ['nightly', '1'],
    ['weekly', '3'],
  ] as const) {
    const created = await cli('collection', 'create', name, '--source', source(), '--repo', base, '--keep-last', keep);
    expect(created.code, describeResult(created)).toBe(0);
  }
  const ids: string[] = [];
  for (let round = 0; round < 2; round++) {
    if (round > 0) await pg.sql(`UPDATE orders SET note = 'changed' WHERE id % 10 = 0`, 'shop');
    const backup = await backupInto(base);
    expect(backup.code, describeResult(backup)).toBe(0);
    ids.push(backup.json.backupId);
  }
  [A, B] = ids as [string, string];
}, 120_000);

afterAll(async () => {
  delete process.env.TIDEMARK_KEY;
  await pg?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the registry refuses every forgery of every document kind, naming the object', () => {
  it('manifest, commit marker, tombstone, collection, plan, plan batch, export result, snapshot hand-off, release, marker and change segment', async () => {
    const read = (path: string) => readFile(join(base, path));
    const tombstone = { backupId: B, collection: 'nightly', expiredAt: new Date().toISOString() };
    const [segment, segmentPlace] = [EMPTY_SEGMENT, EMPTY_SEGMENT_PLACE];
    const encode = async <T, P extends Place>(kind: DocumentKind<T, P>, place: P, body: any) =>
      Buffer.from(await encodeDocument(kind, place, body as T, key));
    // Each kind: a valid document, where it belongs, and another place of the same kind.
    const cases: { kind: DocumentKind<any, any>; place: Place; other?: Place; bytes: Buffer }[] = [
      {
        kind: formats.manifestKind,
        place: { backupId: B },
        other: { backupId: A },
        bytes: await read(layout.manifest(B)),
      },
      {
        kind: formats.commitMarkerKind,
        place: { backupId: B },
        other: { backupId: A },
        bytes: await read(layout.backupCommitted(B)),
      },
      {
        kind: formats.tombstoneKind,
        place: { backupId: B },
        other: { backupId: A },
        bytes: await encode(formats.tombstoneKind, { backupId: B }, tombstone),
      },
      {
        kind: formats.collectionKind,
        place: { name: 'nightly' },
        other: { name: 'weekly' },
        bytes: await read(layout.collection('nightly')),
      },
      {
        kind: formats.planHeaderKind,
        place: { runId: B },
        other: { runId: A },
        bytes: await read(layout.planHeader(B)),
      },
      {
        kind: formats.planTasksKind,
        place: { runId: B, batch: 0 },
        other: { runId: A, batch: 0 },
        bytes: await read(layout.planBatch(B, 0)),
      },
      {
        kind: formats.exportResultKind,
        place: { runId: B, batch: 0 },
        other: { runId: B, batch: 1 },
        bytes: await read(layout.exportResult(B, 0)),
      },
      { kind: formats.snapshotKind, place: { runId: B }, other: { runId: A }, bytes: await read(layout.snapshot(B)) },
      {
        kind: formats.snapshotReleaseKind,
        place: { runId: B },
        other: { runId: A },
        bytes: await read(layout.snapshotReleased(B)),
      },
      { kind: formats.repositoryMarkerKind, place: {}, bytes: await read(layout.marker()) },
      {
        kind: formats.segmentKind,
        place: segmentPlace,
        other: { ...segmentPlace, part: 1 },
        bytes: await encode(formats.segmentKind, segmentPlace, segment),
      },
    ];
    const registered = Object.values(formats).filter((v: any) => v && typeof v.keyOf === 'function');
    expect(cases.map((c) => c.kind.format).sort(), 'every kind document-formats.ts registers').toEqual(
      registered.map((k: any) => k.format).sort(),
    );
    for (const { kind, place, other, bytes } of cases) {
      const name = `${kind.title} ${kind.keyOf(place)}`;
      const valid = await decodeDocument(kind, place, bytes, key);
      const { header, body } = split(bytes);
      const forgeries: [string, Buffer, string, Place][] = [
        ['edited, re-sealed, MAC left', reseal(header, edited(body), 'left'), 'does not authenticate', place],
        ['edited, MAC by a wrong key', reseal(header, edited(body), 'wrong key'), 'does not authenticate', place],
        ['edited, MAC removed', reseal(header, edited(body), 'removed'), 'carries no authentication', place],
        [
          'signed with another key',
          await signedWithOtherKey(kind, place, valid),
          'authenticated with another key',
          place,
        ],
      ];
      // Moved (or replayed from another place of the same kind): a valid document read where it does not belong.
      if (other) forgeries.push(['moved', bytes, `was written as ${kind.keyOf(place)}`, other]);
      for (const [what, forged, problem, at] of forgeries) {
        const error = await decodeDocument(kind, at, forged, key).then(
          () => undefined,
          (err: Error) => err,
        );
        const named = `${kind.title} ${kind.keyOf(at)}`;
        expect(error?.message, `${name}: ${what}`).toContain(named);
        expect(error?.message, `${name}: ${what}`).toContain(problem);
        expect(error?.name, `${name}: ${what}`).toBe('IntegrityError');
      }
    }
  });
});

/** B's manifest, forged each way; `problem` is what the refusal says. */
const manifestForgeries: { what: string; problem: string; forge: (repo: string) => Promise<Buffer> }[] = [
  {
    what: 'edited (a statement appended to its DDL) and re-sealed, MAC left',
    problem: `Manifest backups/${'B'}/manifest.json does not authenticate`,
    forge: async (repo) => {
      const { header, body } = split(await readFile(join(repo, layout.manifest(B))));
      body.schema.preData.push({ object: 'x', kind: 'table', sql: 'CREATE TABLE public.planted (id int)' });
      return reseal(header, body, 'left');
    },
  },
  {
    what: 'edited and re-sealed with a MAC by a wrong key',
    problem: `Manifest backups/${'B'}/manifest.json does not authenticate`,
    forge: async (repo) => {
      const { header, body } = split(await readFile(join(repo, layout.manifest(B))));
      body.tables[0].rows += 1;
      return reseal(header, body, 'wrong key');
    },
  },
  {
    what: 'moved: A’s manifest under B’s key',
    problem: `Manifest backups/${'B'}/manifest.json was written as backups/${'A'}/manifest.json`,
    forge: (repo) => readFile(join(repo, layout.manifest(A))),
  },
  {
    what: 'signed with another key',
    problem: `Manifest backups/${'B'}/manifest.json was authenticated with another key`,
    forge: async (repo) => {
      const { body } = split(await readFile(join(repo, layout.manifest(B))));
      body.schema.preData.push({ object: 'x', kind: 'table', sql: 'CREATE TABLE public.planted (id int)' });
      return signedWithOtherKey(formats.manifestKind, { backupId: B }, body);
    },
  },
];

const named = (text: string) =>
  text.replace('backups/B/', `backups/${B}/`).replace('backups/A/', `backups/${A}/`).replace('runs/A/', `runs/${A}/`);

describe('a forged manifest of the newest backup', () => {
  for (const forgery of manifestForgeries) {
    it(`${forgery.what}: verify, show, restore, gc, expire and catalog rebuild refuse it by name; list leaves it out of a rebuilt catalog; the next backup is full`, async () => {
      const repo = await copyOfBase();
      await writeFile(join(repo, layout.manifest(B)), await forgery.forge(repo));
      const problem = named(forgery.problem);
      const chunksBefore = await chunkFiles(repo);
      const target = `forged_${copies}`;

      refusedNaming(await cli('verify', B, '--repo', repo), problem);
      refusedNaming(await cli('show', B, '--repo', repo), problem);
      refusedNaming(await cli('restore', 'latest', '--repo', repo, '--target', pg.url(target)), problem);
      expect(await databaseExists(target), 'restore loaded nothing: the target was not even created').toBe(false);
      refusedNaming(await cli('gc', '--repo', repo), problem);
      // expire would drop A, the last intact restore point, keeping only B: it refuses instead.
      refusedNaming(await cli('expire', '--repo', repo), problem);
      expect(await chunkFiles(repo), 'gc deleted nothing').toEqual(chunksBefore);
      expect(await backupFiles(repo)).not.toContain(`${A}/expired.json`);

      const rebuilt = join(repo, 'catalog-rebuilt');
      const rebuild = await cli('catalog', 'rebuild', '--repo', repo, '--catalog', rebuilt);
      expect(rebuild.code, describeResult(rebuild)).toBe(1);
      expect(rebuild.json.backupsImported).toEqual([A]);
      expect(rebuild.json.damaged).toEqual([
        expect.objectContaining({ object: layout.manifest(B), problem: expect.stringContaining(problem) }),
      ]);
      const list = await cli('list', '--repo', repo, '--catalog', rebuilt);
      expect(list.json.map((b: any) => b.backupId)).toEqual([A]);

      // An incremental backup does not build on it: it is full, and says why.
      const next = await backupInto(repo);
      expect(next.code, describeResult(next)).toBe(0);
      expect(next.json.warnings.join('\n')).toContain(`its parent backup ${B} cannot be used: ${problem}`);
      expect(split(await readFile(join(repo, layout.manifest(next.json.backupId)))).body.parent).toBeNull();
    });
  }
});

/** Runs `expire` (keep-last 1 drops A) in `repo`: A gets its tombstone; returns its bytes. */
async function expireA(repo: string): Promise<Buffer> {
  const expire = await cli('expire', '--repo', repo);
  expect(expire.code, describeResult(expire)).toBe(0);
  expect(expire.json.collections.find((c: any) => c.collection === 'nightly').expired).toEqual([A]);
  return readFile(join(repo, layout.backupExpired(A)));
}

const tombstoneForgeries: { what: string; problem: string; forge: (tombstoneOfA: Buffer) => Promise<Buffer> }[] = [
  {
    what: 'A’s tombstone edited to name B and re-sealed, MAC left',
    problem: 'Tombstone backups/B/expired.json does not authenticate',
    forge: async (bytes) => {
      const { header, body } = split(bytes);
      return reseal({ ...header, key: layout.backupExpired(B) }, { ...body, backupId: B }, 'left');
    },
  },
  {
    what: 'moved: A’s tombstone copied next to B',
    problem: 'Tombstone backups/B/expired.json was written as backups/A/expired.json',
    forge: async (bytes) => bytes,
  },
  {
    what: 'written without the key',
    problem: 'Tombstone backups/B/expired.json carries no authentication',
    forge: async (bytes) => {
      const { header, body } = split(bytes);
      return reseal({ ...header, key: layout.backupExpired(B) }, { ...body, backupId: B }, 'removed');
    },
  },
  {
    what: 'signed with another key',
    problem: 'Tombstone backups/B/expired.json was authenticated with another key',
    forge: (bytes) => signedWithOtherKey(formats.tombstoneKind, { backupId: B }, { ...split(bytes).body, backupId: B }),
  },
];

describe('a forged tombstone next to the newest backup', () => {
  for (const forgery of tombstoneForgeries) {
    it(`${forgery.what}: gc, expire and catalog rebuild refuse it by name and act on nothing; B stays committed and verifies`, async () => {
      const repo = await copyOfBase();
      const tombstoneOfA = await expireA(repo);
      await writeFile(join(repo, layout.backupExpired(B)), await forgery.forge(tombstoneOfA));
      const problem = named(forgery.problem);
      const [chunksBefore, filesBefore] = [await chunkFiles(repo), await backupFiles(repo)];

      refusedNaming(await cli('gc', '--repo', repo), problem);
      refusedNaming(await cli('expire', '--repo', repo), problem);
      expect(await chunkFiles(repo), 'gc deleted no chunk').toEqual(chunksBefore);
      expect(await backupFiles(repo), 'nor any manifest').toEqual(filesBefore);
      const rebuilt = join(repo, 'catalog-rebuilt');
      const rebuild = await cli('catalog', 'rebuild', '--repo', repo, '--catalog', rebuilt);
      expect(rebuild.code, describeResult(rebuild)).toBe(1);
      expect(rebuild.json.damaged).toEqual([expect.objectContaining({ problem: expect.stringContaining(problem) })]);
      expect(rebuild.json.backupsImported).toEqual([A]);

      const [list, show, verify] = [
        await cli('list', '--repo', repo),
        await cli('show', B, '--repo', repo),
        await cli('verify', B, '--repo', repo),
      ];
      expect(list.json.map((b: any) => [b.backupId, b.state])).toEqual([
        [A, 'expired'],
        [B, 'committed'],
      ]);
      expect(show.json.state ?? show.json.backup?.state, describeResult(show)).toBe('committed');
      expect(verify.code, describeResult(verify)).toBe(0);
    });
  }

  it('replayed: A’s tombstone put back after gc removed A is a tombstone alone; gc removes it and nothing else', async () => {
    const repo = await copyOfBase();
    const tombstoneOfA = await expireA(repo);
    expect((await cli('gc', '--repo', repo)).json.manifestsRemoved).toEqual([A]);
    const chunksBefore = await chunkFiles(repo);
    await writeFile(join(repo, layout.backupExpired(A)), tombstoneOfA);
    const gc = await cli('gc', '--repo', repo);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.backupsKept).toBe(1);
    expect(await chunkFiles(repo)).toEqual(chunksBefore);
    expect(await backupFiles(repo)).not.toContain(`${A}/expired.json`);
    const restore = await cli('restore', 'latest', '--repo', repo, '--target', pg.url('after_replayed_tombstone'));
    expect(restore.code, describeResult(restore)).toBe(0);
  });
});

describe('a replayed manifest: an expired backup brought back after gc removed it', () => {
  it('verify, restore and show refuse to take it for a restore point, list shows it expired, gc names it and deletes nothing because of it, expire leaves it alone', async () => {
    const repo = await copyOfBase();
    await expireA(repo);
    const saved = await Promise.all(
      [layout.manifest(A), layout.backupCommitted(A)].map((k) => readFile(join(repo, k))),
    );
    expect((await cli('gc', '--repo', repo)).json.manifestsRemoved).toEqual([A]);
    // The replay: both documents, once valid, put back where they were.
    await mkdir(join(repo, 'backups', A), { recursive: true });
    await writeFile(join(repo, layout.manifest(A)), saved[0]!);
    await writeFile(join(repo, layout.backupCommitted(A)), saved[1]!);
    const chunksBefore = await chunkFiles(repo);

    refusedNaming(await cli('verify', A, '--repo', repo), `Backup ${A} is expired`);
    refusedNaming(
      await cli('restore', A, '--repo', repo, '--target', pg.url('replayed_target')),
      `Backup ${A} is expired`,
    );
    expect(await databaseExists('replayed_target')).toBe(false);
    const show = await cli('show', A, '--repo', repo);
    expect(show.code, describeResult(show)).toBe(0);
    expect(JSON.stringify(show.json)).toContain('"expired"');
    const list = await cli('list', '--repo', repo);
    expect(list.json.map((b: any) => [b.backupId, b.state])).toEqual([
      [A, 'expired'],
      [B, 'committed'],
    ]);
    const gc = await cli('gc', '--repo', repo);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.expiredInCatalog).toEqual([A]);
    expect(gc.json.backupsKept, 'only B is a restore point').toBe(1);
    expect(await chunkFiles(repo), 'gc deleted nothing because of it').toEqual(chunksBefore);
    const gcText = await runCliInProcess(['gc', '--repo', repo]);
    expect(gcText.code, describeResult(gcText)).toBe(0);
    expect(gcText.stderr).toContain(
      `warning: backup ${A} is expired in the catalog but its manifest is back in the repository without a tombstone; gc kept it and its chunks`,
    );
    const expire = await cli('expire', '--repo', repo);
    expect(expire.code, describeResult(expire)).toBe(0);
    expect(expire.json.collections.find((c: any) => c.collection === 'nightly').kept).toEqual([
      expect.objectContaining({ backupId: B }),
    ]);
    const rebuild = await cli('catalog', 'rebuild', '--repo', repo);
    expect(rebuild.code, describeResult(rebuild)).toBe(0);
    expect(rebuild.json.backupsImported, 'the catalog keeps A expired').toEqual([]);
  });
});

describe('a forged commit marker on the manifest of a run that never committed', () => {
  const markerForgeries: { what: string; problem: string; forge: (repo: string, orphan: string) => Promise<Buffer> }[] =
    [
      {
        what: 'moved: A’s commit marker copied next to it',
        problem: 'was written as backups/A/committed.json',
        forge: (repo) => readFile(join(repo, layout.backupCommitted(A))),
      },
      {
        what: 'edited to name it and re-sealed, MAC left',
        problem: 'does not authenticate',
        forge: async (repo, orphan) => {
          const { header, body } = split(await readFile(join(repo, layout.backupCommitted(A))));
          return reseal({ ...header, key: layout.backupCommitted(orphan) }, { ...body, backupId: orphan }, 'left');
        },
      },
      {
        what: 'signed with another key',
        problem: 'was authenticated with another key',
        forge: async (_repo, orphan) =>
          signedWithOtherKey(
            formats.commitMarkerKind,
            { backupId: orphan },
            {
              backupId: orphan,
              committedAt: new Date().toISOString(),
            },
          ),
      },
    ];
  for (const forgery of markerForgeries) {
    it(`${forgery.what}: catalog rebuild and gc refuse it by name; the run never looks committed`, async () => {
      const repo = await copyOfBase();
      // What a backup killed between its manifest and its catalog commit leaves, with the key.
      const orphan = newRunId();
      const manifest = { ...split(await readFile(join(repo, layout.manifest(B)))).body, backupId: orphan };
      await mkdir(join(repo, 'backups', orphan), { recursive: true });
      await writeFile(
        join(repo, layout.manifest(orphan)),
        await encodeDocument(formats.manifestKind, { backupId: orphan }, manifest, key),
      );
      await writeFile(join(repo, layout.backupCommitted(orphan)), await forgery.forge(repo, orphan));
      const problem = `Commit marker ${layout.backupCommitted(orphan)} ${named(forgery.problem)}`;
      const chunksBefore = await chunkFiles(repo);

      const rebuilt = join(repo, 'catalog-rebuilt');
      const rebuild = await cli('catalog', 'rebuild', '--repo', repo, '--catalog', rebuilt);
      expect(rebuild.code, describeResult(rebuild)).toBe(1);
      expect([...rebuild.json.backupsImported].sort()).toEqual([A, B].sort());
      expect(rebuild.json.damaged).toEqual([expect.objectContaining({ problem: expect.stringContaining(problem) })]);
      const list = await cli('list', '--repo', repo, '--catalog', rebuilt);
      expect(list.json.map((b: any) => b.backupId)).not.toContain(orphan);
      refusedNaming(await cli('gc', '--repo', repo), problem);
      expect(await chunkFiles(repo)).toEqual(chunksBefore);
      const restore = await cli(
        'restore',
        'latest',
        '--repo',
        repo,
        '--catalog',
        rebuilt,
        '--target',
        pg.url(`marker_${copies}`),
      );
      expect(restore.code, describeResult(restore)).toBe(0);
      expect(restore.json.backupId ?? JSON.stringify(restore.json)).toContain(B);
    });
  }
});

describe('a forged collection definition', () => {
  const collectionForgeries: { what: string; problem: string; forge: (repo: string) => Promise<Buffer> }[] = [
    {
      what: 'edited (retention raised) and re-sealed, MAC left',
      problem: 'Collection collections/nightly.json does not authenticate',
      forge: async (repo) => {
        const { header, body } = split(await readFile(join(repo, layout.collection('nightly'))));
        return reseal(header, { ...body, retention: { keepLast: 100 } }, 'left');
      },
    },
    {
      what: 'moved: weekly’s definition copied over nightly’s',
      problem: 'Collection collections/nightly.json was written as collections/weekly.json',
      forge: (repo) => readFile(join(repo, layout.collection('weekly'))),
    },
    {
      what: 'signed with another key',
      problem: 'Collection collections/nightly.json was authenticated with another key',
      forge: async (repo) => {
        const { body } = split(await readFile(join(repo, layout.collection('nightly'))));
        return signedWithOtherKey(
          formats.collectionKind,
          { name: 'nightly' },
          { ...body, retention: { keepLast: 100 } },
        );
      },
    },
  ];
  for (const forgery of collectionForgeries) {
    it(`${forgery.what}: catalog rebuild and collection create refuse it by name and import nothing of it`, async () => {
      const repo = await copyOfBase();
      await writeFile(join(repo, layout.collection('nightly')), await forgery.forge(repo));
      const rebuilt = join(repo, 'catalog-rebuilt');
      const rebuild = await cli('catalog', 'rebuild', '--repo', repo, '--catalog', rebuilt);
      expect(rebuild.code, describeResult(rebuild)).toBe(1);
      expect(rebuild.json.collectionsImported).toEqual(['weekly']);
      expect(rebuild.json.damaged).toEqual([
        { object: layout.collection('nightly'), problem: expect.stringContaining(forgery.problem) },
      ]);
      const list = await cli('collection', 'list', '--repo', repo, '--catalog', rebuilt);
      expect(JSON.stringify(list.json)).not.toContain('"nightly"');
      refusedNaming(
        await cli(
          'collection',
          'create',
          'nightly',
          '--source',
          source(),
          '--repo',
          repo,
          '--catalog',
          rebuilt,
          '--keep-last',
          '1',
        ),
        forgery.problem,
      );
    });
  }
  it('replayed from another repository with the same key: catalog rebuild refuses it by name', async () => {
    const repo = await copyOfBase();
    const elsewhere = join(scratch, `elsewhere-${copies}`);
    const created = await cli(
      'collection',
      'create',
      'nightly',
      '--source',
      source(),
      '--repo',
      elsewhere,
      '--keep-last',
      '50',
    );
    expect(created.code, describeResult(created)).toBe(0);
    await writeFile(
      join(repo, layout.collection('nightly')),
      await readFile(join(elsewhere, layout.collection('nightly'))),
    );
    const rebuilt = join(repo, 'catalog-rebuilt');
    const rebuild = await cli('catalog', 'rebuild', '--repo', repo, '--catalog', rebuilt);
    expect(rebuild.code, describeResult(rebuild)).toBe(1);
    expect(rebuild.json.damaged).toEqual([
      {
        object: layout.collection('nightly'),
        problem: expect.stringContaining('Collection collections/nightly.json belongs to repository'),
      },
    ]);
  });
});

describe('forged run documents: the backup that reads them refuses them by name and commits nothing', () => {
  /** Runs a collection backup in this process, calling `forge(runId)` before the first call of `task`. */
  async function backupForgingBefore(repo: string, task: string, forge: (runId: string) => Promise<void>) {
    const runsBefore = new Set(await readdir(join(repo, 'runs')));
    let forged = false;
    const error = await runBackup(repo, source(), {
      collection: 'nightly',
      chunkBytes: 16 * 1024,
      workers: 1,
      aroundTask: async (functionName, run) => {
        if (functionName === task && !forged) {
          forged = true;
          const runId = (await readdir(join(repo, 'runs'))).find((id) => !runsBefore.has(id))!;
          await forge(runId);
        }
        return run();
      },
    }).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(forged, `${task} ran`).toBe(true);
    const runId = (await readdir(join(repo, 'runs'))).find((id) => !runsBefore.has(id))!;
    return { error, runId };
  }

  const cases: {
    what: string;
    task: string;
    key: (runId: string) => string;
    forge: (bytes: Buffer, runId: string) => Promise<Buffer>;
    problem: string;
  }[] = [
    {
      what: 'an export result edited (a chunk reference changed) and re-sealed',
      task: 'BackupCommit',
      key: (runId) => layout.exportResult(runId, 0),
      forge: async (bytes) => {
        const { header, body } = split(bytes);
        body.tasks[0].rows += 1000;
        return reseal(header, body, 'left');
      },
      problem: 'does not authenticate',
    },
    {
      what: 'a plan batch signed with another key',
      task: 'BackupExportBatch',
      key: (runId) => layout.planBatch(runId, 0),
      forge: async (bytes, runId) => signedWithOtherKey(formats.planTasksKind, { runId, batch: 0 }, split(bytes).body),
      problem: 'was authenticated with another key',
    },
    {
      what: 'the plan header replaced by the plan of another run (A’s)',
      task: 'BackupExportBatch',
      key: (runId) => layout.planHeader(runId),
      forge: async () => readFile(join(base, layout.planHeader(A))),
      problem: `was written as ${layout.planHeader('A')}`,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: refused by name, the run fails and nothing of it looks committed`, async () => {
      const repo = await copyOfBase();
      const { error, runId } = await backupForgingBefore(repo, c.task, async (id) => {
        const path = join(repo, c.key(id));
        await writeFile(path, await c.forge(await readFile(path), id));
      });
      expect(error?.message, 'the backup fails').toContain(c.key(runId));
      expect(error?.message).toContain(named(c.problem));
      const list = await cli('list', '--repo', repo);
      expect(list.json.find((b: any) => b.backupId === runId)?.state).toBe('failed');
      expect(await backupFiles(repo)).not.toContain(`${runId}/manifest.json`);
    });
  }
});
