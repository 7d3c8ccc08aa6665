// Replay applies what the source's triggers wrote from the archive, so the target's own triggers
// must not fire again: an audit trigger's log is restored as it was, not doubled.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { openPitrSource } from '../support/pitr-source.ts';
import { tableContents } from '../support/pitr-physical.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('triggers and foreign keys of the target do not act again during replay', async () => {
  const url = await server.createDatabase('trg');
  await server.sql(
    `CREATE TABLE parent (id int PRIMARY KEY);
    CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent ON DELETE CASCADE, v int);
    CREATE TABLE audit (id serial PRIMARY KEY, what text);
    CREATE FUNCTION log_child() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (what) VALUES (TG_OP || ' ' || NEW.id); RETURN NEW; END $$;
    CREATE TRIGGER child_log AFTER INSERT OR UPDATE ON child FOR EACH ROW EXECUTE FUNCTION log_child()`,
    'trg',
  );
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  try {
    await createCollection(src.ctx, {
      name: 'trg',
      source: withoutPassword(url),
      sourceDescription: describeUrl(url),
      retention: {},
    });
    await enablePitr(src.session, src.stream, src.ctx.storage, 'trg');
    await runBackup(repo, url, { collection: 'trg', workers: 1 });
    await server.sql(
      'INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1, 0), (20, 2, 0); UPDATE child SET v = 1 WHERE id = 10',
      'trg',
    );
    // The cascade's deletes are in the archive as deletes of their own.
    await server.sql('DELETE FROM parent WHERE id = 2', 'trg');
    await archiveChanges(src.stream, src.ctx.storage, 'trg');
    const into = server.url('trg_latest');
    src.ctx.credentials.register('latest', into);
    await restoreToPoint(
      {
        collection: 'trg',
        target: parseTarget('latest'),
        into: { credentials: 'latest' },
        restoreBackup: async (id) => void (await runRestore(repo, id, into)),
      },
      src.ctx,
    );
    const expected = await tableContents((q) => server.sql(q, 'trg'));
    expect(expected['audit']).toHaveLength(3);
    expect(await tableContents((q) => server.sql(q, 'trg_latest'))).toEqual(expected);
  } finally {
    await src.close();
  }
});
