// Issue 10, the kinds that pg_dump --schema-only cannot be the oracle for, each checked in the
// restored catalogs themselves: subscriptions (their connection is kept without its password, so
// the dumps differ on purpose).
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';

/** Every file under `dir`, as text (chunks are compressed: only documents are readable this way). */
async function repositoryText(dir: string): Promise<string> {
  const texts: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) texts.push(await readFile(join(entry.parentPath, entry.name), 'latin1'));
  }
  return texts.join('\n');
}

const SECRET = 's3cr3t pw';

describe('subscriptions: created disabled, without a slot or a password', () => {
  let server: PostgresServer;
  let repo: string;
  let restored: CompleteOutput;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('subs');
    await server.sql(
      `CREATE SUBSCRIPTION "Sub One" CONNECTION 'host=127.0.0.1 port=1 dbname=''far away'' user=replicator password=''${SECRET.replaceAll("'", "''")}'''
         PUBLICATION pub_a, "Pub B" WITH (connect = false, slot_name = 'the_slot', binary = true, streaming = on,
           disable_on_error = true, synchronous_commit = 'local');
       COMMENT ON SUBSCRIPTION "Sub One" IS 'from far away';
       CREATE SUBSCRIPTION plain CONNECTION 'postgresql://replicator:${encodeURIComponent(SECRET)}@127.0.0.1:1/x?application_name=a&password=${encodeURIComponent(SECRET)}'
         PUBLICATION pub_a WITH (connect = false, slot_name = NONE);
       CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);`,
      'subs',
    );
    repo = await tempRepository();
    const { output } = await runBackup(repo, server.url('subs'));
    restored = await runRestore(repo, output.backupId, server.url('subs_restored'));
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  const subscriptions = async (database: string) =>
    (
      await server.sql(
        `SELECT subname, subenabled, subconninfo, subslotname, subpublications, subbinary, substream, subdisableonerr,
           subsynccommit, obj_description(oid, 'pg_subscription') AS comment, pg_get_userbyid(subowner) AS owner
         FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1`,
        database,
      )
    ).rows;

  it('restores each subscription with its publications and options, disabled, its connection without the password', async () => {
    expect(await subscriptions('subs_restored')).toEqual([
      {
        subname: 'Sub One',
        subenabled: false,
        subconninfo: "host=127.0.0.1 port=1 dbname='far away' user=replicator",
        subslotname: 'the_slot',
        subpublications: ['pub_a', 'Pub B'],
        subbinary: true,
        substream: true,
        subdisableonerr: true,
        subsynccommit: 'local',
        comment: 'from far away',
        owner: 'postgres',
      },
      {
        subname: 'plain',
        subenabled: false,
        subconninfo: 'postgresql://replicator@127.0.0.1:1/x?application_name=a',
        subslotname: null,
        subpublications: ['pub_a'],
        subbinary: false,
        substream: false,
        subdisableonerr: false,
        subsynccommit: 'off',
        comment: null,
        owner: 'postgres',
      },
    ]);
    expect((await server.sql('SELECT count(*)::int AS n FROM t', 'subs_restored')).rows).toEqual([{ n: 2 }]);
  });

  it('keeps the password out of the repository, and the restore names each subscription and what to run', async () => {
    const text = await repositoryText(dirname(repo));
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(encodeURIComponent(SECRET));
    const warnings = restored.warnings.join('\n');
    for (const name of ['"Sub One"', 'plain']) {
      expect(warnings).toContain(
        `subscription ${name} is restored disabled and without a replication slot, as pg_dump does (it was disabled at the source); its connection string was backed up without its password. To use it: ALTER SUBSCRIPTION ${name} CONNECTION`,
      );
    }
    expect(warnings).not.toContain('unsupported object kind');
  });
});
