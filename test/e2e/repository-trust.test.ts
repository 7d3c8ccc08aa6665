// Issue 11: the repository never reports a success it has not earned. Each test plants one of
// the trial's findings in a copy of one small repository (a collection of two backups, the
// second incremental) and runs the command line on it as a user would.
import { cp, mkdir, readdir, readFile, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { collect, describeResult, runCli, spawnCli } from '../support/cli.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';
import { encodeManifest, readManifest } from '#core/repository/manifest.ts';
import { writeTombstone } from '#core/maintenance/tombstone.ts';
import { layout } from '#core/repository/layout.ts';
import { newRunId } from '#core/ids.ts';
import { MAINTENANCE_LEASE, acquireMaintenanceLease } from '#core/maintenance/lease.ts';

let pg: PostgresServer;
let base: string;
let scratch: string;
/** Oldest first: a full backup, then one incremental on it. */
const ids: string[] = [];
let copies = 0;

async function copyOfBase(): Promise<string> {
  const repo = join(scratch, `copy-${++copies}`);
  await cp(base, repo, { recursive: true });
  return repo;
}

async function manifestJson(repo: string, backupId: string): Promise<any> {
  const text = await readFile(join(repo, 'backups', backupId, 'manifest.json'), 'utf8');
  return JSON.parse(text.slice(text.indexOf('\n') + 1));
}

const chunkPath = (repo: string, id: string) => join(repo, 'chunks', id.slice(0, 2), id);
/** `tidemark backup` of the shop database into `repo`, in small chunks. */
const backupInto = (repo: string) =>
  runCli(['backup', '--source', pg.url('shop'), '--repo', repo, '--json', '--chunk-bytes', String(16 * 1024)]);

beforeAll(async () => {
  [pg, base] = await Promise.all([startPostgres({ major: 15 }), tempRepository()]);
  scratch = join(base, '..');
  await pg.createDatabase('shop');
  await pg.sql(
    `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigint PRIMARY KEY, product_id int, note text);
     INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 2000) g;
     INSERT INTO orders SELECT g, 1 + g % 2000, repeat(md5(g::text), 3) FROM generate_series(1, 4000) g;`,
    'shop',
  );
  const created = await runCli([
    'collection',
    'create',
    'nightly',
    '--source',
    pg.url('shop'),
    '--repo',
    base,
    '--json',
  ]);
  expect(created.code, describeResult(created)).toBe(0);
  for (let round = 0; round < 2; round++) {
    if (round > 0) await pg.sql(`UPDATE orders SET note = 'changed' WHERE id % 10 = 0`, 'shop');
    ids.push(
      (await runBackup(base, pg.url('shop'), { collection: 'nightly', chunkBytes: 16 * 1024, workers: 2 })).output
        .backupId,
    );
  }
  const second = await manifestJson(base, ids[1]!);
  expect(second.parent, 'the second backup is incremental').toBe(ids[0]);
}, 120_000);

afterAll(async () => {
  await pg?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('documents are bound to where they are found (findings 4 and 5)', () => {
  it("the first backup's manifest copied over the newest's: verify and restore latest refuse it by name, and the next incremental backup is full", async () => {
    const repo = await copyOfBase();
    const newest = join(repo, 'backups', ids[1]!, 'manifest.json');
    await writeFile(newest, await readFile(join(repo, 'backups', ids[0]!, 'manifest.json')));
    const [verify, restore] = await Promise.all([
      runCli(['verify', ids[1]!, '--repo', repo, '--json']),
      runCli(['restore', 'latest', '--repo', repo, '--target', pg.url('rollback_target'), '--json']),
    ]);
    for (const r of [verify, restore]) {
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.json.error.type).toBe('IntegrityError');
      expect(r.json.error.message).toContain(
        `backups/${ids[1]}/manifest.json was written as backups/${ids[0]}/manifest.json`,
      );
    }
    // The next incremental backup of the collection does not build on it: it is full, and says why.
    const next = await runCli([
      'backup',
      '--collection',
      'nightly',
      '--source',
      pg.url('shop'),
      '--repo',
      repo,
      '--json',
      '--chunk-bytes',
      String(16 * 1024),
    ]);
    expect(next.code, describeResult(next)).toBe(0);
    expect(next.json.warnings.join('\n')).toContain(
      `This backup is full: its parent backup ${ids[1]} cannot be used: Manifest backups/${ids[1]}/manifest.json was written as`,
    );
    expect((await manifestJson(repo, next.json.backupId)).parent).toBeNull();
  });

  it('a tombstone copied next to the newest backup: gc and expire refuse, naming it; the newest stays committed and verifies', async () => {
    const repo = await copyOfBase();
    const ctx = await openLocalContext(repo, { create: false });
    await writeTombstone(ctx.storage, {
      backupId: ids[0]!,
      collection: 'nightly',
      expiredAt: new Date().toISOString(),
    });
    await ctx.catalog.expireBackup(ids[0]!, new Date().toISOString());
    await cp(join(repo, 'backups', ids[0]!, 'expired.json'), join(repo, 'backups', ids[1]!, 'expired.json'));
    const [gc, expire] = await Promise.all([
      runCli(['gc', '--repo', repo, '--json', '--wait', '30']),
      runCli(['expire', '--repo', repo, '--json', '--wait', '30']),
    ]);
    for (const r of [gc, expire]) {
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.json.error.message).toContain(
        `Tombstone backups/${ids[1]}/expired.json was written as backups/${ids[0]}/expired.json`,
      );
    }
    expect((await ctx.catalog.getBackup(ids[1]!))!.state).toBe('committed');
    await rm(join(repo, 'backups', ids[1]!, 'expired.json'));
    const verify = await runCli(['verify', ids[1]!, '--repo', repo, '--json']);
    expect(verify.code, describeResult(verify)).toBe(0);
  });
});

describe('"present" means present and intact (findings 2 and 3)', () => {
  it('a truncated chunk is written again by the next full backup, which then verifies', async () => {
    const repo = await copyOfBase();
    const chunk = (await manifestJson(repo, ids[0]!)).tables.find((t: any) => t.name === 'products').chunks[0].id;
    await truncate(chunkPath(repo, chunk), 10);
    const backup = await backupInto(repo);
    expect(backup.code, describeResult(backup)).toBe(0);
    expect(backup.json.bytesStored).toBeGreaterThan(0);
    const verify = await runCli(['verify', backup.json.backupId, '--repo', repo, '--json']);
    expect(verify.code, describeResult(verify)).toBe(0);
    expect(await readdir(join(repo, 'quarantine', 'chunks', chunk))).toHaveLength(1);
  });

  it('a flipped byte: verify names and quarantines the chunk, and the next backup of the rows writes it again', async () => {
    const repo = await copyOfBase();
    const chunk = (await manifestJson(repo, ids[0]!)).tables.find((t: any) => t.name === 'products').chunks[1].id;
    const bytes = await readFile(chunkPath(repo, chunk));
    bytes[bytes.length >> 1] ^= 0x5a;
    await writeFile(chunkPath(repo, chunk), bytes);
    const damaged = await runCli(['verify', ids[0]!, '--repo', repo, '--json']);
    expect(damaged.code, describeResult(damaged)).toBe(1);
    expect(damaged.json.problems).toEqual([
      expect.objectContaining({
        object: layout.chunk(chunk as never),
        quarantined: expect.stringContaining(`quarantine/chunks/${chunk}/`),
      }),
    ]);
    const backup = await backupInto(repo);
    expect(backup.code, describeResult(backup)).toBe(0);
    for (const id of [backup.json.backupId, ids[0]!]) {
      const verify = await runCli(['verify', id, '--repo', repo, '--json']);
      expect(verify.code, `${id}: ${describeResult(verify)}`).toBe(0);
    }
  });

  it('an incremental backup on a parent with a missing chunk exports that table whole, saying why, and restores', async () => {
    const repo = await copyOfBase();
    const parent = await manifestJson(repo, ids[1]!);
    const orders = parent.tables.find((t: any) => t.name === 'orders');
    const missing = orders.chunks[0].id;
    await rm(chunkPath(repo, missing));
    await pg.sql(`UPDATE products SET name = 'renamed' WHERE id = 7`, 'shop');
    const backup = await runCli([
      'backup',
      '--collection',
      'nightly',
      '--source',
      pg.url('shop'),
      '--repo',
      repo,
      '--json',
      '--chunk-bytes',
      String(16 * 1024),
    ]);
    expect(backup.code, describeResult(backup)).toBe(0);
    const warnings: string[] = backup.json.warnings;
    expect(warnings.join('\n')).toContain(
      `Table "public"."orders" was exported whole: its entry in parent backup ${ids[1]}`,
    );
    expect(warnings.join('\n')).toContain(layout.chunk(missing));
    const child = await manifestJson(repo, backup.json.backupId);
    expect(child.parent).toBe(ids[1]);
    expect(child.tables.find((t: any) => t.name === 'orders').layers ?? []).toEqual([]);
    expect(child.tables.find((t: any) => t.name === 'products').layers).toHaveLength(1);
    const restore = await runCli([
      'restore',
      backup.json.backupId,
      '--repo',
      repo,
      '--target',
      pg.url('after_missing_parent'),
      '--json',
    ]);
    expect(restore.code, describeResult(restore)).toBe(0);
    expect(restore.json).toMatchObject({ ok: true });
    await pg.sql(`UPDATE products SET name = 'product 7' WHERE id = 7`, 'shop');
  });
});

describe('a run that never committed is no backup (finding 6)', () => {
  it('a manifest whose run died before its catalog commit: catalog rebuild skips it, gc marks it failed and removes it', async () => {
    const repo = await copyOfBase();
    const ctx = await openLocalContext(repo, { create: false });
    // What a backup killed between its manifest and its catalog commit leaves: a running record
    // whose local process is gone, and a manifest.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const orphan = newRunId();
    await ctx.catalog.createBackup({
      backupId: orphan,
      state: 'running',
      startedAt: new Date().toISOString(),
      source: 'x',
      runner: { host: hostname(), pid: dead },
    });
    const manifest = { ...(await readManifest(ctx.storage, ids[1]!)), backupId: orphan };
    await ctx.storage.putIfAbsent(layout.manifest(orphan), encodeManifest(manifest));

    const rebuilt = await runCli([
      'catalog',
      'rebuild',
      '--repo',
      repo,
      '--catalog',
      join(repo, 'catalog-rebuilt'),
      '--json',
    ]);
    expect(rebuilt.code, describeResult(rebuilt)).toBe(0);
    expect(rebuilt.json.uncommitted).toEqual([orphan]);
    expect([...rebuilt.json.backupsImported].sort()).toEqual([...ids].sort()); // ids made in one second order by their random suffix

    const gc = await runCli(['gc', '--repo', repo, '--json']);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.runsMarkedFailed).toEqual([orphan]);
    expect(gc.json.orphanManifestsRemoved).toEqual([orphan]);
    expect(gc.json.backupsKept).toBe(2);
    expect(await ctx.storage.head(layout.manifest(orphan))).toBeUndefined();
    for (const id of ids) expect((await runCli(['verify', id, '--repo', repo, '--json'])).code).toBe(0);
  });

  it('backups killed at random moments leave, after gc, nothing uncommitted that looks committed, no orphan manifest and no temp file', async () => {
    const repo = await copyOfBase();
    for (let round = 0; round < 5; round++) {
      const child = spawnCli([
        'backup',
        '--source',
        pg.url('shop'),
        '--repo',
        repo,
        '--json',
        '--chunk-bytes',
        String(16 * 1024),
        '--workers',
        '2',
      ]);
      const done = collect(child);
      setTimeout(() => child.kill('SIGKILL'), 300 + Math.floor(Math.random() * 2500));
      await done;
    }
    // gc leaves a temp file younger than a minute (mtime granularity, clocks: gc.ts); the killed
    // writes are aged as if gc ran a few minutes later (the rounds can take less than a minute).
    const aWhileAgo = new Date(Date.now() - 5 * 60_000);
    for (const f of await readdir(repo, { recursive: true }))
      if (f.split('/').pop()!.startsWith('.tmp-')) await utimes(join(repo, f), aWhileAgo, aWhileAgo);
    const gc = await runCli(['gc', '--repo', repo, '--json']);
    expect(gc.code, describeResult(gc)).toBe(0);
    const list = await runCli(['list', '--repo', repo, '--json']);
    expect(
      list.json.filter((b: any) => b.state === 'running'),
      'no run left running',
    ).toEqual([]);
    const committed = list.json.filter((b: any) => b.state === 'committed').map((b: any) => b.backupId);
    expect(committed).toEqual(expect.arrayContaining(ids));
    for (const id of await readdir(join(repo, 'backups'))) {
      const files = await readdir(join(repo, 'backups', id));
      if (files.includes('manifest.json'))
        expect(files, `${id}: a manifest without its commit marker`).toContain('committed.json');
    }
    const everything = await readdir(repo, { recursive: true });
    expect(everything.filter((f) => !f.startsWith('catalog') && f.split('/').pop()!.startsWith('.tmp-'))).toEqual([]);
    // Run files of runs that can never commit are gone (directories stay: the storage never removes them).
    const runFiles = await readdir(join(repo, 'runs'), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(runFiles.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    for (const id of committed) expect((await runCli(['verify', id, '--repo', repo, '--json'])).code, id).toBe(0);
  });

  it('gc removes temp files of writes that died, once older than any live writer (finding 7)', async () => {
    const repo = await copyOfBase();
    const someChunkDir = join(repo, 'chunks', (await readdir(join(repo, 'chunks')))[0]!);
    const old = join(someChunkDir, '.tmp-0123456789abcdef');
    const fresh = join(someChunkDir, '.tmp-fedcba9876543210');
    await writeFile(old, Buffer.alloc(4096, 1));
    await writeFile(fresh, Buffer.alloc(10, 1));
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(old, twoHoursAgo, twoHoursAgo);
    const gc = await runCli(['gc', '--repo', repo, '--json']);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.abandonedWritesRemoved).toEqual([old.slice(repo.length + 1)]);
    expect(await readdir(someChunkDir)).toContain('.tmp-fedcba9876543210');
  });
});

describe('a damaged catalog file (finding 9)', () => {
  it('blocks neither list, show, restore latest nor gc; catalog rebuild names and repairs it', async () => {
    const repo = await copyOfBase();
    const itemDir = join(repo, 'catalog', 'backups', ids[0]!);
    const versions = (await readdir(itemDir)).filter((f) => f.endsWith('.json')).sort();
    await writeFile(join(itemDir, versions[versions.length - 1]!), '{"backupId": "trunc');
    const [list, show, gc] = await Promise.all([
      runCli(['list', '--repo', repo, '--json']),
      runCli(['show', ids[1]!, '--repo', repo, '--json']),
      runCli(['gc', '--dry-run', '--repo', repo, '--json']),
    ]);
    for (const r of [list, show, gc]) expect(r.code, describeResult(r)).toBe(0);
    expect(list.json.map((b: any) => b.backupId)).toEqual([ids[1]]);
    expect(list.stderr).toContain(`warning: Catalog file ${join(itemDir, versions[versions.length - 1]!)} is damaged`);
    const damagedShow = await runCli(['show', ids[0]!, '--repo', repo, '--json']);
    expect(damagedShow.code).toBe(1);
    expect(damagedShow.json.error.message).toContain(join(itemDir, versions[versions.length - 1]!));
    expect(damagedShow.json.error.message).toContain('catalog rebuild');

    const rebuilt = await runCli(['catalog', 'rebuild', '--repo', repo, '--json']);
    expect(rebuilt.code, describeResult(rebuilt)).toBe(0);
    expect(rebuilt.json.repaired).toEqual([ids[0]]);
    const after = await runCli(['list', '--repo', repo, '--json']);
    expect(after.json.map((b: any) => [b.backupId, b.state])).toEqual(ids.map((id) => [id, 'committed']));
    const restore = await runCli([
      'restore',
      'latest',
      '--repo',
      repo,
      '--target',
      pg.url('after_damaged_catalog'),
      '--json',
    ]);
    expect(restore.code, describeResult(restore)).toBe(0);
  });
});

describe('leases with liveness (finding 8)', () => {
  it('a gc that died (its process gone on this host) frees its lease at once: a backup starts without waiting, and the next gc runs', async () => {
    const repo = await copyOfBase();
    const ctx = await openLocalContext(repo, { create: false });
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const now = new Date();
    const lease = {
      name: MAINTENANCE_LEASE,
      owner: 'dead-gc',
      purpose: 'gc',
      acquiredAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 900_000).toISOString(),
      holder: { host: hostname(), pid: dead },
    };
    expect(await ctx.catalog.acquireLease(lease, now)).toBeUndefined();
    const started = Date.now();
    const backup = await backupInto(repo);
    expect(backup.code, describeResult(backup)).toBe(0);
    expect(Date.now() - started, 'no wait for the dead holder').toBeLessThan(60_000);
    const gc = await runCli(['gc', '--repo', repo, '--json']);
    expect(gc.code, describeResult(gc)).toBe(0);
  });

  it('gc and expire killed at random moments: the next one is never blocked by the dead lease, and every committed backup still verifies', async () => {
    const repo = await copyOfBase();
    for (let round = 0; round < 6; round++) {
      const child = spawnCli([round % 2 ? 'expire' : 'gc', '--repo', repo, '--json']);
      const done = collect(child);
      setTimeout(() => child.kill('SIGKILL'), 100 + Math.floor(Math.random() * 1200));
      await done;
    }
    const gc = await runCli(['gc', '--repo', repo, '--json']);
    expect(gc.code, describeResult(gc)).toBe(0);
    expect(gc.json.backupsKept).toBe(2);
    for (const id of ids) expect((await runCli(['verify', id, '--repo', repo, '--json'])).code).toBe(0);
  });

  it('a live holder renews its lease (heartbeat) and keeps it past its lifetime; released, it is free', async () => {
    const repo = await copyOfBase();
    const ctx = await openLocalContext(repo, { create: false });
    const held = await acquireMaintenanceLease(ctx.catalog, { purpose: 'test', ttlSeconds: 2, marginSeconds: 0.2 });
    const firstExpiry = held.lease.expiresAt;
    await new Promise((r) => setTimeout(r, 3000));
    await held.assertHeld('checking the heartbeat');
    expect(Date.parse(held.lease.expiresAt)).toBeGreaterThan(Date.parse(firstExpiry));
    expect((await ctx.catalog.getLease(MAINTENANCE_LEASE))!.owner).toBe(held.lease.owner);
    await held.release();
    expect(await ctx.catalog.getLease(MAINTENANCE_LEASE)).toBeUndefined();
  });
});

/**
 * A real full disk: a small tmpfs. Mounting needs root (CAP_SYS_ADMIN); where it is not allowed
 * the test is skipped, saying so — a fake ENOSPC would test only our own fake.
 */
function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'tidemark-mount-probe-'));
  try {
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status !== 0) return false;
    spawnSync('umount', [probe]);
    return true;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const tmpfsAllowed = canMountTmpfs();

/** Writes until the filesystem holding `path` is full. */
async function fillDisk(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const block = Buffer.alloc(64 * 1024, 7);
    for (;;) await handle.write(block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

describe('a full disk (finding 10)', () => {
  it.skipIf(!tmpfsAllowed)(
    'a backup fails naming the object and what to do, leaving nothing committed; gc still frees space (its lease uses the reserve)',
    async () => {
      const disk = join(scratch, 'small-disk');
      mkdirSync(disk);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', disk]).status).toBe(0);
      try {
        const repo = join(disk, 'repo');
        await cp(base, repo, { recursive: true });
        // An unreferenced chunk for gc to free.
        const junk = randomBytes(32).toString('hex');
        await mkdir(join(repo, 'chunks', junk.slice(0, 2)), { recursive: true });
        await writeFile(join(repo, 'chunks', junk.slice(0, 2), junk), randomBytes(1024 * 1024));
        await fillDisk(join(disk, 'filler'));

        const backup = await runCli(['backup', '--source', pg.url('shop'), '--repo', repo, '--json']);
        expect(backup.code, describeResult(backup)).toBe(1);
        expect(backup.json.error.message).toMatch(/disk is full \(ENOSPC\)/);
        expect(backup.json.error.message).toContain(repo);
        expect(backup.json.error.message).toContain('tidemark gc');
        const list = await runCli(['list', '--repo', repo, '--json']);
        expect(list.json.filter((b: any) => b.state === 'committed').map((b: any) => b.backupId)).toEqual(ids);

        const gc = await runCli(['gc', '--repo', repo, '--json']);
        expect(gc.code, describeResult(gc)).toBe(0);
        expect(gc.json.bytesFreed).toBeGreaterThanOrEqual(1024 * 1024);
        const again = await runCli(['backup', '--source', pg.url('shop'), '--repo', repo, '--json']);
        expect(again.code, describeResult(again)).toBe(0);
      } finally {
        spawnSync('umount', [disk]);
      }
    },
  );
});

describe('authenticated documents (finding 1)', () => {
  const key = 'ab'.repeat(32);
  it('with a repository key, a manifest whose DDL was edited and re-sealed is refused by verify, show, restore, gc and catalog rebuild; without the key the repository does not open', async () => {
    const repo = join(scratch, 'keyed');
    const env = { TIDEMARK_KEY: key };
    const backup = await runCli(
      ['backup', '--source', pg.url('shop'), '--repo', repo, '--json', '--chunk-bytes', String(16 * 1024)],
      { env },
    );
    expect(backup.code, describeResult(backup)).toBe(0);
    const id = backup.json.backupId;
    const [control, restored] = await Promise.all([
      runCli(['verify', id, '--repo', repo, '--json'], { env }),
      runCli(['restore', id, '--repo', repo, '--target', pg.url('keyed_target'), '--json'], { env }),
    ]);
    expect(control.code, describeResult(control)).toBe(0);
    expect(restored.code, describeResult(restored)).toBe(0);

    // The trial's forgery: append a statement to the DDL, recompute bodySha256 and bodyBytes.
    const path = join(repo, 'backups', id, 'manifest.json');
    const text = await readFile(path, 'utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n')));
    const body = JSON.parse(text.slice(text.indexOf('\n') + 1));
    body.schema.preData.push({ object: 'x', kind: 'table', sql: 'CREATE TABLE public.planted (id int)' });
    const forged = JSON.stringify(body);
    header.bodySha256 = createHash('sha256').update(forged).digest('hex');
    header.bodyBytes = Buffer.byteLength(forged);
    await writeFile(path, `${JSON.stringify(header)}\n${forged}`);

    const [verify, show, restore, noKey, gc, rebuild] = await Promise.all([
      runCli(['verify', id, '--repo', repo, '--json'], { env }),
      runCli(['show', id, '--repo', repo, '--json'], { env }),
      runCli(['restore', id, '--repo', repo, '--target', pg.url('forged_target'), '--json'], { env }),
      runCli(['verify', id, '--repo', repo, '--json']),
      runCli(['gc', '--dry-run', '--repo', repo, '--json'], { env }),
      runCli(['catalog', 'rebuild', '--repo', repo, '--catalog', join(repo, 'catalog-rebuilt'), '--json'], { env }),
    ]);
    expect(rebuild.code, describeResult(rebuild)).toBe(1);
    expect(rebuild.json.backupsImported).toEqual([]);
    expect(rebuild.json.damaged).toEqual([
      expect.objectContaining({
        object: `backups/${id}/manifest.json`,
        problem: expect.stringContaining('does not authenticate'),
      }),
    ]);
    for (const r of [verify, show, restore, gc]) {
      expect(r.code, describeResult(r)).toBe(1);
      expect(r.json.error.message).toContain(`Manifest backups/${id}/manifest.json does not authenticate`);
    }
    expect(noKey.code, describeResult(noKey)).toBe(1);
    expect(noKey.json.error.message).toMatch(/authenticates its documents with a repository key .* no key was given/);
    // Nothing of the forged DDL ran: the target was not even created.
    const target = await pg.sql(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'forged_target'`);
    expect(target.rows[0].n).toBe(0);
  });
});
