// Incremental backups in a collection (issue 4, FORMAT.md "Incremental backups"): after a full
// backup, a backup costs what changed. Every backup restores identical to the source as it was
// at that backup's own time.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { tableContents } from '../support/database-state.ts';
import { openLocalContext } from '#local/local-context.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { readManifest, type Manifest } from '#core/repository/manifest.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';

const ROWS = 120_000;

/** Compressed bytes under chunks/: what the repository stores. */
async function chunkBytes(repo: string): Promise<number> {
  let total = 0;
  for (const fan of await readdir(join(repo, 'chunks'))) {
    for (const name of await readdir(join(repo, 'chunks', fan)))
      total += (await stat(join(repo, 'chunks', fan, name))).size;
  }
  return total;
}

function table(manifest: Manifest, name: string) {
  return manifest.tables.find((t) => t.name === name)!;
}

describe('incremental backups in a collection', () => {
  let pg: PostgresServer;
  let repo: string;
  const states: { backupId: string; contents: Record<string, string> }[] = [];
  const backup = async () => {
    const run = await runBackup(repo, pg.url('shop'), { collection: 'shop', chunkBytes: 1 << 20, rangeBytes: 4 << 20 });
    states.push({ backupId: run.output.backupId, contents: await tableContents(pg, 'shop') });
    return run.output;
  };

  beforeAll(async () => {
    pg = await startPostgres({ major: 15 });
    repo = await tempRepository();
    await pg.createDatabase('shop');
    await pg.sql(
      `CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, price numeric(12,2), doc jsonb, seen timestamptz);
       INSERT INTO items SELECT g, 'sku-' || g, (g % 997) * 1.25, jsonb_build_object('g', g, 'tag', md5(g::text)),
                               timestamptz '2026-01-01' + g * interval '1 minute'
         FROM generate_series(1, ${ROWS}) g;
       CREATE TABLE events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);
       INSERT INTO events (body) SELECT repeat(md5(g::text), 4) FROM generate_series(1, 5000) g;
       CREATE TABLE notes (line text);
       INSERT INTO notes SELECT 'note ' || g FROM generate_series(1, 1000) g;
       CREATE TABLE labels (code text PRIMARY KEY, name text);
       INSERT INTO labels SELECT 'L' || g, 'label ' || g FROM generate_series(1, 500) g;
       CREATE TABLE left_side (id int PRIMARY KEY, v text);
       CREATE TABLE right_side (id int PRIMARY KEY, v text);
       INSERT INTO left_side SELECT g, 'left ' || g FROM generate_series(1, 300) g;
       INSERT INTO right_side SELECT g, 'right ' || g FROM generate_series(1, 300) g;
       CREATE TYPE mood AS ENUM ('sad', 'happy');
       CREATE TABLE moods (id int PRIMARY KEY, m mood);
       INSERT INTO moods SELECT g, (ARRAY['sad', 'happy']::mood[])[1 + g % 2] FROM generate_series(1, 100) g;`,
      'shop',
    );
    await pg.sql('VACUUM ANALYZE', 'shop');
    const ctx = await openLocalContext(repo, { create: true });
    await createCollection(ctx, {
      name: 'shop',
      source: withoutPassword(pg.url('shop')),
      sourceDescription: describeUrl(pg.url('shop')),
      retention: { keepLast: 3 },
    });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('after 1% churn spread over the largest table, uploads and grows the repository by at most 3% of the full backup', async () => {
    const full = await backup();
    const afterFull = await chunkBytes(repo);
    // 1% of the rows: 0.6% updated and 0.4% inserted, spread over the whole table.
    await pg.sql(
      `UPDATE items SET price = price + 1, doc = doc || '{"v": 2}' WHERE id % 167 = 5;
       INSERT INTO items SELECT g, 'sku-' || g, 9.99, '{"new": true}', now() FROM generate_series(${ROWS + 1}, ${ROWS + 480}) g;`,
      'shop',
    );
    const next = await backup();
    const grown = (await chunkBytes(repo)) - afterFull;
    console.log(
      `full: ${full.bytesStored} bytes stored; after 1% churn: ${next.bytesStored} bytes uploaded (${((100 * next.bytesStored) / full.bytesStored).toFixed(2)}%), repository +${grown} bytes (${((100 * grown) / afterFull).toFixed(2)}%), bytesReferenced ${next.bytesReferenced}`,
    );
    expect(next.bytesStored).toBeLessThanOrEqual(0.03 * full.bytesStored);
    expect(grown).toBeLessThanOrEqual(0.03 * afterFull);
    expect(next.bytesReferenced).toBeGreaterThanOrEqual(full.bytesReferenced);

    const { ctx } = { ctx: await openLocalContext(repo, { create: false }) };
    const manifest = await readManifest(ctx.storage, next.backupId);
    expect(manifest.parent).toBe(full.backupId);
    expect(manifest.collection).toBe('shop');
    expect(table(manifest, 'items').layers).toHaveLength(1);
    expect(table(manifest, 'items').layers![0]!.rows).toBe(Math.ceil(ROWS / 167) + 480);
    // Untouched tables are the parent's entries, byte for byte.
    const parent = await readManifest(ctx.storage, full.backupId);
    for (const name of ['events', 'notes', 'labels', 'left_side', 'moods'])
      expect(table(manifest, name)).toEqual(table(parent, name));
    expect(await ctx.catalog.getBackup(next.backupId)).toMatchObject({
      collection: 'shop',
      parent: full.backupId,
      state: 'committed',
    });
  });

  it('deletes, key changes, keyless and text-keyed tables: each backup restores as the source was at its time', async () => {
    await pg.sql(
      `DELETE FROM items WHERE id % 1000 = 3;
       UPDATE items SET id = id + 10000000 WHERE id % 5000 = 7;
       UPDATE events SET body = 'changed' WHERE id % 50 = 0;
       INSERT INTO events (body) VALUES ('new event');
       DELETE FROM notes WHERE line = 'note 10';
       UPDATE labels SET name = 'renamed' WHERE code = 'L7';`,
      'shop',
    );
    await backup();
    // A delete-only round: rows vanish and nothing is new. And changes that give no row a new
    // xmin yet change what the old rows mean: a column dropped and added again (now NULL), two
    // tables swapping names, an enum label renamed. Those tables must be read whole.
    await pg.sql(
      `DELETE FROM items WHERE id BETWEEN 50000 AND 50100;
       ALTER TABLE labels DROP COLUMN name; ALTER TABLE labels ADD COLUMN name text;
       ALTER TABLE left_side RENAME TO swap; ALTER TABLE right_side RENAME TO left_side; ALTER TABLE swap RENAME TO right_side;
       ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';
       UPDATE events SET body = body || '!';`,
      'shop',
    );
    const last = await backup();
    const ctx = await openLocalContext(repo, { create: false });
    const manifest = await readManifest(ctx.storage, last.backupId);
    expect(table(manifest, 'items').layers).toHaveLength(3);
    // 101 ids, less 50003 (deleted before) and 50007 (its key changed before).
    expect(table(manifest, 'items').layers![2]).toMatchObject({ rows: 0, removedRows: 99 });
    expect(table(manifest, 'notes').layers).toBeUndefined();
    // Every row of events changed: stored whole again (a layer would be the table), with a new key index.
    expect(table(manifest, 'events').layers).toBeUndefined();
    expect(table(manifest, 'events').keyIndex?.count).toBe(5001);
    const before = await readManifest(ctx.storage, states[states.length - 2]!.backupId);
    for (const name of ['labels', 'left_side', 'right_side', 'moods'])
      expect(table(manifest, name).chunks, name).not.toEqual(table(before, name).chunks);

    for (const [i, state] of states.entries()) {
      const target = `shop_restored_${i}`;
      const restored = await runRestore(repo, state.backupId, pg.url(target));
      expect(restored.backupId).toBe(state.backupId);
      expect(await tableContents(pg, target), `backup ${i} (${state.backupId})`).toEqual(state.contents);
    }
  });
});
