// Object kinds Tidemark does not capture are reported by name, never dropped silently; objects
// that belong to an extension are not reported (CREATE EXTENSION brings them back).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaSnapshot } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { capture } from './helpers.ts';
import { describeResult, runCli } from '#test/support/cli.ts';
import { tempRepository } from '#test/support/pipeline.ts';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

const UNSUPPORTED = `
  CREATE TABLE public.t (id integer PRIMARY KEY, body text);
  INSERT INTO public.t VALUES (1, 'one'), (2, 'two');
  CREATE PUBLICATION tidemark_pub FOR TABLE public.t;
  CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
  CREATE EVENT TRIGGER tidemark_evt ON ddl_command_start EXECUTE FUNCTION public.on_ddl();
  CREATE TEXT SEARCH CONFIGURATION public.tidemark_ts (COPY = pg_catalog.english);
  CREATE EXTENSION postgres_fdw;
  CREATE SERVER tidemark_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'example.invalid', dbname 'x');
  CREATE USER MAPPING FOR CURRENT_USER SERVER tidemark_remote OPTIONS (user 'someone', password 'not-a-real-secret');
  CREATE FOREIGN TABLE public.remote_t (id integer) SERVER tidemark_remote;
  CREATE COLLATION public.tidemark_coll (provider = libc, locale = 'C');
  CREATE FUNCTION public.int_eq(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 = $2';
  CREATE OPERATOR public.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.int_eq);
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC;
  SELECT lo_create(424242);
  CREATE EXTENSION pgcrypto;
  GRANT EXECUTE ON FUNCTION public.digest(text, text) TO PUBLIC;
  REVOKE EXECUTE ON FUNCTION public.gen_salt(text) FROM PUBLIC;
`;

describe('unsupported object kinds', () => {
  let server: PostgresServer;
  let snapshot: SchemaSnapshot;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('odd');
    await server.sql(UNSUPPORTED, 'odd');
    snapshot = await capture(server.url('odd'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it.each([
    ['event trigger', 'tidemark_evt'],
    ['large object', '424242'],
    ['privileges changed on extension members', 'function public.gen_salt(text)'],
  ])('reports %s %s by name', (kind, name) => {
    const warning = snapshot.warnings.find((w) => w.startsWith(`unsupported object kind "${kind}" not backed up:`));
    expect(warning).toContain(name);
  });

  it('refuses a backup whose restore would fail: objects that need an object of an unsupported kind are named with it', async () => {
    await server.createDatabase('blocked');
    await server.sql(
      `CREATE TYPE public.myint;
       CREATE FUNCTION public.myint_in(cstring) RETURNS public.myint LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
       CREATE FUNCTION public.myint_out(public.myint) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
       CREATE TYPE public.myint (INPUT = public.myint_in, OUTPUT = public.myint_out, LIKE = integer);
       CREATE TABLE public.uses_base (v public.myint, vs public.myint[]);
       CREATE TABLE public.uses_default (t text DEFAULT ('1'::public.myint IS NULL)::text);
       CREATE TABLE public.guarded (id int);
       CREATE POLICY guard ON public.guarded USING (id::text::public.myint IS NOT NULL);
       CREATE INDEX guarded_base ON public.guarded ((id::text::public.myint IS NOT NULL));
       CREATE FOREIGN DATA WRAPPER homemade;
       CREATE SERVER elsewhere FOREIGN DATA WRAPPER homemade;
       CREATE TABLE public.fine (id int);`,
      'blocked',
    );
    const failure = await capture(server.url('blocked')).catch((err: Error) => err);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('UnsupportedObjectError');
    const message = (failure as Error).message;
    expect(message).toContain('column v of table public.uses_base needs type public.myint');
    expect(message).toContain('column vs of table public.uses_base needs type public.myint');
    expect(message).toContain('default value for column t of table public.uses_default needs type public.myint');
    expect(message).toContain('function public.myint_in(cstring) needs type public.myint');
    expect(message).toContain('policy guard on table public.guarded needs type public.myint');
    expect(message).toContain('index public.guarded_base needs type public.myint');
    expect(message).toContain('server elsewhere needs foreign-data wrapper homemade');
    expect(message).not.toContain('public.fine');
    expect(message).toMatch(/the backup is not taken.*pg_dump/);
  });

  it('does not report extension members, and keeps secrets out of warnings and statements', () => {
    expect(snapshot.warnings.join('\n')).not.toMatch(/foreign-data wrapper|postgres_fdw_handler/);
    const everything = JSON.stringify(snapshot);
    expect(everything).not.toContain('not-a-real-secret');
    // The server, the mapping without its password, and the foreign table are backed up.
    const sql = snapshot.preData.map((s) => s.sql);
    expect(sql).toContain(
      `CREATE SERVER tidemark_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'example.invalid', dbname 'x')`,
    );
    expect(sql).toContain(`CREATE USER MAPPING FOR postgres SERVER tidemark_remote OPTIONS ("user" 'someone')`);
    expect(
      sql.some((s) => s.startsWith('CREATE FOREIGN TABLE public.remote_t (\n    id integer\n) SERVER tidemark_remote')),
    ).toBe(true);
    expect(snapshot.warnings).toContain(
      "user mapping for postgres on server tidemark_remote: option password not backed up (secrets stay out of backups); after a restore, set it again with ALTER USER MAPPING FOR postgres SERVER tidemark_remote OPTIONS (ADD password '…')",
    );
  });

  it('still captures the supported objects around them', () => {
    expect(snapshot.preData.some((s) => s.sql.startsWith('CREATE TABLE public.t '))).toBe(true);
    expect(
      snapshot.preData.some((s) => s.sql === 'CREATE EXTENSION IF NOT EXISTS postgres_fdw WITH SCHEMA public'),
    ).toBe(true);
  });

  it('a backup through the CLI carries every warning in its --json result, its human output and its manifest; the rest restores', async () => {
    const repo = await tempRepository();
    try {
      const [json, human] = await Promise.all([
        runCli(['backup', '--source', server.url('odd'), '--repo', repo, '--json']),
        runCli(['backup', '--source', server.url('odd'), '--repo', `${repo}-human`]),
      ]);
      expect(json.code, describeResult(json)).toBe(0);
      expect(json.json.warnings).toEqual(snapshot.warnings);
      expect(json.json.warnings.length).toBeGreaterThanOrEqual(4);
      expect(human.code, describeResult(human)).toBe(0);
      for (const kind of ['event trigger', 'large object'])
        expect(human.stderr).toContain(`unsupported object kind "${kind}"`);

      const manifestText = await readFile(join(repo, 'backups', json.json.backupId, 'manifest.json'), 'utf8');
      const manifest = JSON.parse(manifestText.slice(manifestText.indexOf('\n') + 1));
      expect(manifest.warnings).toEqual(json.json.warnings);
      for (const text of [json.stdout, json.stderr, human.stdout, human.stderr, manifestText])
        expect(text).not.toContain('not-a-real-secret');

      const restore = await runCli([
        'restore',
        json.json.backupId,
        '--repo',
        repo,
        '--target',
        server.url('odd_restored'),
        '--json',
      ]);
      expect(restore.code, describeResult(restore)).toBe(0);
      expect((await server.sql('SELECT id, body FROM public.t ORDER BY id', 'odd_restored')).rows).toEqual([
        { id: 1, body: 'one' },
        { id: 2, body: 'two' },
      ]);
    } finally {
      await rm(dirname(repo), { recursive: true, force: true }); // holds repo-human too
    }
  });
});
