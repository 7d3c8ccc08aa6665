// An extension configuration row (pg_extension_config_dump) whose key a row CREATE EXTENSION
// inserts already holds: the extension's filter leaves out only the rows it marks as shipped, and
// the user changed a shipped row so that the filter selects it. pg_dump's restore fails on it
// with a bare duplicate key; Tidemark's names the table, the extension and the key, and the way
// out it gives (delete the extension's row in the target, resume) restores the backed-up row.
import { writeFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, tempRepository } from '../support/pipeline.ts';
import { describeResult, runCli } from '../support/cli.ts';

/** A SQL-only extension with a configuration table, written into the server's SHAREDIR. */
async function installExtension(server: PostgresServer): Promise<void> {
  const [{ setting }] = (await server.sql(`SELECT setting FROM pg_config WHERE name = 'SHAREDIR'`)).rows;
  const dir = join(setting, 'extension');
  await writeFile(
    join(dir, 'tidemark_clash.control'),
    "default_version = '1.0'\nrelocatable = false\nsuperuser = true\n",
  );
  await writeFile(
    join(dir, 'tidemark_clash--1.0.sql'),
    `CREATE TABLE @extschema@."Settings" (id int PRIMARY KEY, value text, shipped boolean NOT NULL DEFAULT false);
     INSERT INTO @extschema@."Settings" VALUES (1, 'default one', true), (2, 'default two', true);
     SELECT pg_catalog.pg_extension_config_dump('@extschema@."Settings"', 'WHERE NOT shipped');
`,
  );
}

describe('an extension configuration row colliding with one CREATE EXTENSION inserts', () => {
  let server: PostgresServer;
  let repo: string;
  const settings = async (database: string) =>
    (await server.sql('SELECT * FROM cfg."Settings" ORDER BY id', database)).rows;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await installExtension(server);
    await server.createDatabase('clash');
    await server.sql(
      `CREATE SCHEMA cfg; CREATE EXTENSION tidemark_clash WITH SCHEMA cfg;
       INSERT INTO cfg."Settings" VALUES (10, 'mine', false);
       UPDATE cfg."Settings" SET value = 'changed by me', shipped = false WHERE id = 2;`,
      'clash',
    );
    repo = await tempRepository();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('fails naming the table, its extension, the key and what to do; done as told, the resume restores the backed-up row', async () => {
    const { output } = await runBackup(repo, server.url('clash'));
    const target = server.url('clash_restored');
    const failed = await runCli(['restore', output.backupId, '--repo', repo, '--target', target]);
    expect(failed.code, describeResult(failed)).toBe(1);
    expect(failed.stderr).toContain(
      `Loading "cfg"."Settings", a configuration table of extension tidemark_clash, failed: the backup holds a row whose key a row CREATE EXTENSION put there already holds (Key (id)=(2) already exists).`,
    );
    expect(failed.stderr).toContain(
      `delete the extension's row with that key from "cfg"."Settings" in the target and run \`tidemark restore --resume `,
    );
    const restoreId = /tidemark restore --resume (\S+?)`/.exec(failed.stderr)![1]!;

    await server.sql(`DELETE FROM cfg."Settings" WHERE id = 2`, 'clash_restored');
    const resumed = await runCli(['restore', '--resume', restoreId, '--repo', repo, '--target', target, '--json']);
    expect(resumed.code, describeResult(resumed)).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ ok: true, verified: true });
    expect(await settings('clash_restored')).toEqual(await settings('clash'));
    expect((await settings('clash_restored')).map((r) => [r.id, r.value])).toEqual([
      [1, 'default one'],
      [2, 'changed by me'],
      [10, 'mine'],
    ]);
  }, 180_000);
});
