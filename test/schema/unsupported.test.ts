// Object kinds Tidemark does not capture are reported by name, never dropped silently; objects
// that belong to an extension are not reported (CREATE EXTENSION brings them back).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaSnapshot } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { LEFT_IN_DEFAULT_TABLESPACE } from '#core/schema/tablespaces.ts';
import { applySnapshot, capture, dumpSchema, withClient } from './helpers.ts';
import { describeResult, runCli } from '#test/support/cli.ts';
import { runBackup, runRestore, tempRepository } from '#test/support/pipeline.ts';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

/** One object of each kind that once was reported unsupported and now is backed up (issue 10, item 8). */
const NOW_SUPPORTED = `
  CREATE OPERATOR CLASS public.int_ops FOR TYPE integer USING btree AS
    OPERATOR 1 <, OPERATOR 3 =, OPERATOR 5 >, FUNCTION 1 pg_catalog.btint4cmp(integer, integer);
  CREATE OPERATOR FAMILY public.loose USING hash;
  CREATE TYPE public.shell_only;
  CREATE TYPE public.myint;
  CREATE FUNCTION public.myint_in(cstring) RETURNS public.myint LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
  CREATE FUNCTION public.myint_out(public.myint) RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
  CREATE TYPE public.myint (INPUT = public.myint_in, OUTPUT = public.myint_out, LIKE = integer);
  CREATE TABLE public.uses_base (v public.myint, vs public.myint[]);
  CREATE FUNCTION public.pl_handler() RETURNS language_handler LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
  CREATE LANGUAGE my_pl HANDLER public.pl_handler;
  CREATE FUNCTION public.from_sql(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
  CREATE TRANSFORM FOR public.myint LANGUAGE my_pl (FROM SQL WITH FUNCTION public.from_sql(internal));
  CREATE CONVERSION public.my_conv FOR 'LATIN1' TO 'UTF8' FROM pg_catalog.iso8859_1_to_utf8;
  CREATE TEXT SEARCH PARSER public.my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
  CREATE TEXT SEARCH TEMPLATE public.my_template (LEXIZE = dsimple_lexize);
  CREATE FOREIGN DATA WRAPPER homemade;
  CREATE SERVER elsewhere FOREIGN DATA WRAPPER homemade;
`;

describe('unsupported object kinds', () => {
  let server: PostgresServer;
  let snapshot: SchemaSnapshot;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('odd');
    await server.sql(UNSUPPORTED + NOW_SUPPORTED, 'odd');
    snapshot = await capture(server.url('odd'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('no longer reports a large object: its data travels as the rows of one table, its owner as a statement', () => {
    expect(snapshot.warnings.join('\n')).not.toContain('unsupported object kind');
    expect(snapshot.tables.filter((t) => t.source?.kind === 'large objects')).toHaveLength(1);
    expect(snapshot.postData.flat().map((s) => s.sql)).toContain('ALTER LARGE OBJECT 424242 OWNER TO postgres');
  });

  it.each([
    ['operator class', 'CREATE OPERATOR CLASS public.int_ops FOR TYPE integer USING btree FAMILY public.int_ops AS '],
    ['operator family', 'CREATE OPERATOR FAMILY public.loose USING hash'],
    [
      'base or shell type',
      'CREATE TYPE public.myint (INTERNALLENGTH = 4, INPUT = public.myint_in, OUTPUT = public.myint_out',
    ],
    ['base or shell type', 'CREATE TYPE public.shell_only'],
    ['procedural language', 'CREATE LANGUAGE my_pl HANDLER public.pl_handler'],
    [
      'transform',
      'CREATE TRANSFORM FOR public.myint LANGUAGE my_pl (FROM SQL WITH FUNCTION public.from_sql(internal))',
    ],
    ['conversion', `CREATE CONVERSION public.my_conv FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8`],
    ['text search parser', 'CREATE TEXT SEARCH PARSER public.my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken'],
    ['text search template', 'CREATE TEXT SEARCH TEMPLATE public.my_template (LEXIZE = dsimple_lexize)'],
    ['foreign-data wrapper', 'CREATE FOREIGN DATA WRAPPER homemade'],
  ])('no longer reports a %s: it is backed up (%s…)', (kind, statement) => {
    expect(snapshot.warnings.join('\n')).not.toContain(`unsupported object kind "${kind}"`);
    expect(snapshot.preData.map((s) => s.sql).filter((sql) => sql.startsWith(statement))).toHaveLength(1);
  });

  it('backs up what once made a backup unrestorable: columns of a base type, a server on a homemade wrapper', () => {
    const sql = snapshot.preData.map((s) => s.sql);
    const at = (prefix: string) => sql.findIndex((s) => s.startsWith(prefix));
    // The shell, then the I/O functions, then the type, then the table using it.
    expect(at('CREATE TYPE public.myint')).toBeLessThan(at('CREATE OR REPLACE FUNCTION public.myint_in('));
    expect(at('CREATE OR REPLACE FUNCTION public.myint_out(')).toBeLessThan(at('CREATE TYPE public.myint ('));
    expect(at('CREATE TYPE public.myint (')).toBeLessThan(at('CREATE TABLE public.uses_base '));
    expect(at('CREATE FOREIGN DATA WRAPPER homemade')).toBeLessThan(at('CREATE SERVER elsewhere '));
    expect(sql.some((s) => s.startsWith('CREATE TABLE public.uses_base ('))).toBe(true);
  });

  it('a restore that needs a C library the target lacks stops there, naming the function and the library', async () => {
    await server.createDatabase('needs_lib');
    await server.sql(
      `CREATE FUNCTION public.lib_handler() RETURNS language_handler LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
       CREATE LANGUAGE pl_from_lib HANDLER public.lib_handler;
       -- As if made on a server that has this library, which the target has not.
       UPDATE pg_catalog.pg_proc SET probin = '$libdir/tidemark_missing_library' WHERE oid = 'public.lib_handler'::regproc;`,
      'needs_lib',
    );
    const lacking = await capture(server.url('needs_lib'));
    const failure = await applySnapshot(await server.createDatabase('needs_lib_copy'), lacking).catch((e: Error) => e);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).name).toBe('RestoreTargetError');
    expect((failure as Error).message).toBe(
      'Restoring function public.lib_handler() failed: function public.lib_handler() needs the C library $libdir/tidemark_missing_library, ' +
        'which the target server lacks: install it there (from the package that provides it, for this PostgreSQL version), then restore again ' +
        '(could not access file "$libdir/tidemark_missing_library": No such file or directory)',
    );
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
      expect(json.json.warnings.length).toBeGreaterThanOrEqual(1);
      expect(human.code, describeResult(human)).toBe(0);
      expect(human.stderr).toContain('option password not backed up');

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

describe('tables, materialized views and indexes in a non-default tablespace', () => {
  let server: PostgresServer;
  let snapshot: SchemaSnapshot;
  let place: string;
  const placement = async (database: string) =>
    (
      await server.sql(
        `SELECT c.relname, COALESCE(t.spcname, '') AS space FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
          WHERE n.nspname = 'sp' ORDER BY 1`,
        database,
      )
    ).rows;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    // A tablespace is a directory the server's own user owns (the postgres user, when we are root).
    place = await mkdtemp(join(tmpdir(), 'tidemark-space-'));
    await chmod(place, 0o755);
    await mkdir(join(place, 'dir'));
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      await chown(join(place, 'dir'), uid, Number(execFileSync('id', ['-g', 'postgres']).toString()));
    }
    await server.sql(`CREATE TABLESPACE "Space S" LOCATION '${join(place, 'dir')}'`);
    await server.createDatabase('spaced');
    await server.sql(
      `CREATE SCHEMA sp;
       CREATE TABLE sp.plain (id int PRIMARY KEY USING INDEX TABLESPACE "Space S", v text) TABLESPACE "Space S";
       CREATE INDEX plain_v ON sp.plain (v) TABLESPACE "Space S";
       CREATE TABLE sp.parted (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at) TABLESPACE "Space S";
       CREATE TABLE sp.parted_2024 PARTITION OF sp.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
       CREATE TABLE sp.parted_2025 PARTITION OF sp.parted FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') TABLESPACE pg_default;
       CREATE INDEX parted_at ON sp.parted (at) TABLESPACE "Space S";
       CREATE MATERIALIZED VIEW sp.mv TABLESPACE "Space S" AS SELECT id FROM sp.plain;
       CREATE TABLE sp.elsewhere_index (id int);
       CREATE INDEX elsewhere_idx ON sp.elsewhere_index (id) TABLESPACE "Space S";`,
      'spaced',
    );
    snapshot = await capture(server.url('spaced'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(place, { recursive: true, force: true });
  });

  it('are not reported unsupported, and land in the tablespace of that name on the target', async () => {
    expect(snapshot.warnings).toEqual([]);
    const moved = [...snapshot.preData, ...snapshot.postData.flat()].filter((s) => s.kind === 'tablespace');
    expect(moved.map((s) => s.object).sort()).toEqual([
      'index sp.elsewhere_idx',
      'index sp.parted_2024_at_idx',
      'index sp.parted_2025_at_idx',
      'index sp.parted_at',
      'index sp.plain_pkey',
      'index sp.plain_v',
      'materialized view sp.mv',
      'table sp.parted',
      'table sp.parted_2024',
      'table sp.plain',
    ]);
    expect(await applySnapshot(await server.createDatabase('spaced_here'), snapshot)).toEqual([]);
    expect(await dumpSchema(server, 'spaced_here')).toBe(await dumpSchema(server, 'spaced'));
    expect(await placement('spaced_here')).toEqual(await placement('spaced'));
  });

  it('land in the default tablespace where the target has none of that name, each move saying so', async () => {
    await server.sql('ALTER TABLESPACE "Space S" RENAME TO "Other Space"');
    try {
      const target = await server.createDatabase('spaced_elsewhere');
      expect(await applySnapshot(target, snapshot)).toEqual([]);
      expect((await placement('spaced_elsewhere')).every((r) => r.space === '')).toBe(true);
      // The statement itself raises the warning a restore reports (LEFT_IN_DEFAULT_TABLESPACE).
      const move = snapshot.preData.find((s) => s.kind === 'tablespace' && s.object === 'table sp.plain')!;
      const notices = await withClient(target, async (client) => {
        const seen: { code?: string; message: string }[] = [];
        client.on('notice', (n) => seen.push({ code: n.code, message: n.message ?? '' }));
        await client.query(move.sql);
        return seen;
      });
      expect(notices).toEqual([
        {
          code: LEFT_IN_DEFAULT_TABLESPACE,
          message:
            'table sp.plain stays in the default tablespace: the target has no tablespace "Space S" the restoring role may create in',
        },
      ]);
    } finally {
      await server.sql('ALTER TABLESPACE "Other Space" RENAME TO "Space S"');
    }
  });
  it('a restore through the state machine reports each object left in the default tablespace', async () => {
    const repo = await tempRepository();
    await runBackup(repo, server.url('spaced'));
    await server.sql('ALTER TABLESPACE "Space S" RENAME TO "Other Space"');
    try {
      const done = await runRestore(repo, 'latest', await server.createDatabase('spaced_restored'));
      const left = done.warnings.filter((w) => w.includes('stays in the default tablespace'));
      expect(left).toEqual(
        expect.arrayContaining([
          expect.stringContaining('table sp.plain stays in the default tablespace'),
          expect.stringContaining('materialized view sp.mv stays in the default tablespace'),
          expect.stringContaining('index sp.plain_v stays in the default tablespace'),
        ]),
      );
      expect(done.verified).toBe(true);
    } finally {
      await server.sql('ALTER TABLESPACE "Other Space" RENAME TO "Space S"');
      await rm(dirname(repo), { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the kinds once unsupported, on PostgreSQL 13 (the oldest supported major)', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ major: 13 });
    await server.sql(NOW_SUPPORTED, await server.createDatabase('source').then(() => 'source'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('are backed up and rebuild a database whose pg_dump --schema-only is identical', async () => {
    const snapshot = await capture(server.url('source'));
    expect(snapshot.warnings).toEqual([]);
    expect(await applySnapshot(await server.createDatabase('target'), snapshot)).toEqual([]);
    const [source, target] = [await dumpSchema(server, 'source'), await dumpSchema(server, 'target')];
    expect(source).toContain('CREATE TYPE public.myint (');
    expect(target).toBe(source);
  });
});
