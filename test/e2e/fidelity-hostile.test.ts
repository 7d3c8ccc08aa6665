// A hostile trial of issue 10's new kinds, as PostgreSQL's own regression suites would write it:
// names needing quotes in every kind, other owners, comments, grants with grant option to several
// roles, large objects at the edges (oid 2^32-1, empty, 5 MB, 2,000 small ones), event triggers on
// every event, a base type used every way a type can be used, an operator class behind an index
// of a partitioned table, a tablespace, subscription passwords in every libpq form, the same on
// PostgreSQL 13 and 18, and incremental backups where large objects change in place. Oracles:
// pg_dump (schema and data, large objects included) of source and restore where pg_dump can read
// the server, the catalogs themselves elsewhere, and the restore's own verification.
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { schemaDump, tableContents } from '../support/database-state.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { openLocalContext } from '#local/local-context.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';

const ROLES = `DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'Hostile Owner') THEN CREATE ROLE "Hostile Owner" NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reader "r"') THEN CREATE ROLE "reader ""r""" NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'écrivain') THEN CREATE ROLE "écrivain" NOLOGIN; END IF;
END $$;`;

const SOURCE = `
CREATE SCHEMA "Hostile ""S"" é";
SET search_path = "Hostile ""S"" é", public;

-- A base type (an integer by another name) used as a column, an array, a domain, a range's subtype.
CREATE TYPE "Ty ""pe""";
CREATE FUNCTION "ty in"(cstring) RETURNS "Ty ""pe""" LANGUAGE internal IMMUTABLE STRICT AS 'int4in';
CREATE FUNCTION "ty out"("Ty ""pe""") RETURNS cstring LANGUAGE internal IMMUTABLE STRICT AS 'int4out';
CREATE TYPE "Ty ""pe""" (INPUT = "ty in", OUTPUT = "ty out", INTERNALLENGTH = 4, PASSEDBYVALUE, ALIGNMENT = int4);
ALTER TYPE "Ty ""pe""" OWNER TO "Hostile Owner";
COMMENT ON TYPE "Ty ""pe""" IS 'it''s an int';
GRANT USAGE ON TYPE "Ty ""pe""" TO "reader ""r""" WITH GRANT OPTION;
CREATE FUNCTION "ty lt"("Ty ""pe""", "Ty ""pe""") RETURNS boolean LANGUAGE internal IMMUTABLE STRICT AS 'int4lt';
CREATE FUNCTION "ty le"("Ty ""pe""", "Ty ""pe""") RETURNS boolean LANGUAGE internal IMMUTABLE STRICT AS 'int4le';
CREATE FUNCTION "ty eq"("Ty ""pe""", "Ty ""pe""") RETURNS boolean LANGUAGE internal IMMUTABLE STRICT AS 'int4eq';
CREATE FUNCTION "ty ge"("Ty ""pe""", "Ty ""pe""") RETURNS boolean LANGUAGE internal IMMUTABLE STRICT AS 'int4ge';
CREATE FUNCTION "ty gt"("Ty ""pe""", "Ty ""pe""") RETURNS boolean LANGUAGE internal IMMUTABLE STRICT AS 'int4gt';
CREATE FUNCTION "ty cmp"("Ty ""pe""", "Ty ""pe""") RETURNS integer LANGUAGE internal IMMUTABLE STRICT AS 'btint4cmp';
CREATE OPERATOR <<< (LEFTARG = "Ty ""pe""", RIGHTARG = "Ty ""pe""", FUNCTION = "ty lt");
CREATE OPERATOR <<= (LEFTARG = "Ty ""pe""", RIGHTARG = "Ty ""pe""", FUNCTION = "ty le");
CREATE OPERATOR === (LEFTARG = "Ty ""pe""", RIGHTARG = "Ty ""pe""", FUNCTION = "ty eq");
CREATE OPERATOR >>= (LEFTARG = "Ty ""pe""", RIGHTARG = "Ty ""pe""", FUNCTION = "ty ge");
CREATE OPERATOR >>> (LEFTARG = "Ty ""pe""", RIGHTARG = "Ty ""pe""", FUNCTION = "ty gt");
CREATE OPERATOR FAMILY "Fam ""F""" USING btree;
ALTER OPERATOR FAMILY "Fam ""F""" USING btree OWNER TO "Hostile Owner";
COMMENT ON OPERATOR FAMILY "Fam ""F""" USING btree IS 'family';
CREATE OPERATOR CLASS "Ops ""O"" é" DEFAULT FOR TYPE "Ty ""pe""" USING btree FAMILY "Fam ""F""" AS
  OPERATOR 1 <<<, OPERATOR 2 <<=, OPERATOR 3 ===, OPERATOR 4 >>=, OPERATOR 5 >>>, FUNCTION 1 "ty cmp"("Ty ""pe""", "Ty ""pe""");
ALTER OPERATOR CLASS "Ops ""O"" é" USING btree OWNER TO "Hostile Owner";
COMMENT ON OPERATOR CLASS "Ops ""O"" é" USING btree IS 'class';
CREATE DOMAIN "Dom ""D""" AS "Ty ""pe""" NOT NULL;
CREATE TYPE "Rng ""R""" AS RANGE (SUBTYPE = "Ty ""pe""", SUBTYPE_OPCLASS = "Ops ""O"" é");
CREATE TABLE "Part ""P""" (k "Ty ""pe""" NOT NULL, ks "Ty ""pe"""[], d "Dom ""D""", r "Rng ""R""") PARTITION BY RANGE (k);
CREATE TABLE "Part ""P"" low" PARTITION OF "Part ""P""" FOR VALUES FROM (MINVALUE) TO ('100');
CREATE TABLE "Part ""P"" high" PARTITION OF "Part ""P""" FOR VALUES FROM ('100') TO (MAXVALUE);
CREATE INDEX "Part ""P"" idx" ON "Part ""P""" (k "Ops ""O"" é", d);
CREATE UNIQUE INDEX "Part ""P"" uniq" ON "Part ""P""" (k);
INSERT INTO "Part ""P""" SELECT i::text::"Ty ""pe""", ARRAY[i::text::"Ty ""pe""", NULL], (i * 2)::text::"Dom ""D""",
  CASE WHEN i % 3 = 0 THEN NULL ELSE format('[%s,%s)', i, i + 5)::"Rng ""R""" END FROM generate_series(1, 300) i;

-- A procedural language with an inline handler, owned by another role, granted with grant option.
CREATE FUNCTION "pl call"() RETURNS language_handler LANGUAGE c AS '$libdir/plpgsql', 'plpgsql_call_handler';
CREATE FUNCTION "pl inline"(internal) RETURNS void LANGUAGE c STRICT AS '$libdir/plpgsql', 'plpgsql_inline_handler';
CREATE TRUSTED LANGUAGE "Lang ""L"" é" HANDLER "pl call" INLINE "pl inline";
ALTER LANGUAGE "Lang ""L"" é" OWNER TO "Hostile Owner";
GRANT USAGE ON LANGUAGE "Lang ""L"" é" TO "reader ""r""" WITH GRANT OPTION;
GRANT USAGE ON LANGUAGE "Lang ""L"" é" TO "écrivain";
COMMENT ON LANGUAGE "Lang ""L"" é" IS 'inline';
CREATE FUNCTION "in lang"(integer) RETURNS integer LANGUAGE "Lang ""L"" é" AS 'BEGIN RETURN $1 * 2; END';

-- A conversion made DEFAULT, owned by another role, with a comment.
CREATE DEFAULT CONVERSION "Conv ""C"" é" FOR 'LATIN2' TO 'UTF8' FROM pg_catalog.iso8859_to_utf8;
ALTER CONVERSION "Conv ""C"" é" OWNER TO "Hostile Owner";
COMMENT ON CONVERSION "Conv ""C"" é" IS 'default';

-- Text search parser and template with quoted names.
CREATE TEXT SEARCH PARSER "Pars ""P""" (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
CREATE TEXT SEARCH TEMPLATE "Tmpl ""T""" (INIT = dsimple_init, LEXIZE = dsimple_lexize);
CREATE TEXT SEARCH DICTIONARY "Dict ""D""" (TEMPLATE = "Tmpl ""T""");
CREATE TEXT SEARCH CONFIGURATION "Cfg ""C""" (PARSER = "Pars ""P""");
ALTER TEXT SEARCH CONFIGURATION "Cfg ""C""" ADD MAPPING FOR asciiword WITH "Dict ""D""";
CREATE TABLE docs (id int PRIMARY KEY, body text, tsv tsvector GENERATED ALWAYS AS (to_tsvector('"Hostile ""S"" é"."Cfg ""C"""'::regconfig, body)) STORED);
INSERT INTO docs (id, body) VALUES (1, 'Quick brown fox'), (2, 'Lazy dog');

-- A foreign-data wrapper with quoted options, grants to several roles.
CREATE FOREIGN DATA WRAPPER "Wrap ""W"" é" OPTIONS ("Opt ""O""" 'it''s', plain 'x');
GRANT USAGE ON FOREIGN DATA WRAPPER "Wrap ""W"" é" TO "reader ""r""" WITH GRANT OPTION;
GRANT USAGE ON FOREIGN DATA WRAPPER "Wrap ""W"" é" TO "écrivain";
COMMENT ON FOREIGN DATA WRAPPER "Wrap ""W"" é" IS 'wrapper';
CREATE SERVER "Srv ""S""" FOREIGN DATA WRAPPER "Wrap ""W"" é";

-- Event triggers on every event, quoted names and tags, one disabled, one replica, one always.
CREATE TABLE ddl_seen (id serial PRIMARY KEY, event text, tag text);
CREATE FUNCTION "evt log"() RETURNS event_trigger LANGUAGE plpgsql AS
  $f$ BEGIN INSERT INTO "Hostile ""S"" é".ddl_seen (event, tag) VALUES (tg_event, tg_tag); END $f$;
CREATE EVENT TRIGGER "Evt ""start"" é" ON ddl_command_start WHEN TAG IN ('CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION "evt log"();
CREATE EVENT TRIGGER "evt end" ON ddl_command_end EXECUTE FUNCTION "evt log"();
CREATE EVENT TRIGGER "evt drop" ON sql_drop EXECUTE FUNCTION "evt log"();
CREATE EVENT TRIGGER "evt rewrite" ON table_rewrite WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION "evt log"();
ALTER EVENT TRIGGER "evt drop" DISABLE;
ALTER EVENT TRIGGER "evt rewrite" ENABLE REPLICA;
ALTER EVENT TRIGGER "evt end" ENABLE ALWAYS;
COMMENT ON EVENT TRIGGER "Evt ""start"" é" IS 'sees creates and drops';
-- A shell type never defined; a transform for the base type in the language above; a server with
-- an owner, grants and a user mapping.
CREATE TYPE "Shell ""s"" é";
ALTER TYPE "Shell ""s"" é" OWNER TO "Hostile Owner";
COMMENT ON TYPE "Shell ""s"" é" IS 'only a shell';
CREATE FUNCTION "ty from sql"(internal) RETURNS internal LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE FUNCTION "ty to sql"(internal) RETURNS "Ty ""pe""" LANGUAGE internal IMMUTABLE STRICT AS 'int4recv';
CREATE TRANSFORM FOR "Ty ""pe""" LANGUAGE "Lang ""L"" é" (FROM SQL WITH FUNCTION "ty from sql"(internal), TO SQL WITH FUNCTION "ty to sql"(internal));
COMMENT ON TRANSFORM FOR "Ty ""pe""" LANGUAGE "Lang ""L"" é" IS 'transform';
ALTER SERVER "Srv ""S""" OWNER TO "Hostile Owner";
GRANT USAGE ON FOREIGN SERVER "Srv ""S""" TO "reader ""r""" WITH GRANT OPTION;
CREATE USER MAPPING FOR "écrivain" SERVER "Srv ""S""" OPTIONS ("user" 'é', "Odd ""o""" 'x');
-- Privileges changed on extension members of the kinds pg_dump also replays: plpgsql's language
-- (an extension initdb made), postgres_fdw's wrapper.
REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC;
GRANT USAGE ON LANGUAGE plpgsql TO "écrivain" WITH GRANT OPTION;
CREATE EXTENSION postgres_fdw SCHEMA "Hostile ""S"" é";
GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO "reader ""r""" WITH GRANT OPTION;
-- A user's own event trigger whose name starts like Tidemark's DDL capture's.
CREATE FUNCTION public.tidemark_ddl_audit() RETURNS event_trigger LANGUAGE plpgsql AS $f$ BEGIN NULL; END $f$;
CREATE EVENT TRIGGER tidemark_ddl_audit_trail ON ddl_command_end EXECUTE FUNCTION public.tidemark_ddl_audit();
-- What depends on the base type's operators: a domain CHECK, a column CHECK and DEFAULT (in the
-- language above), a partial index, an exclusion constraint on the range over it, a view.
CREATE DOMAIN "Dom2" AS "Ty ""pe""" CHECK (VALUE >>> '0') DEFAULT '7';
CREATE TABLE uses (id int PRIMARY KEY, a "Dom2", b "Ty ""pe""" DEFAULT "in lang"(3)::text::"Ty ""pe""" CHECK (b <<< '1000'),
  r "Rng ""R""", EXCLUDE USING gist (r WITH &&));
CREATE INDEX uses_part ON uses (b) WHERE b >>> '5';
INSERT INTO uses VALUES (1, '3', '9', '[1,3)'), (2, DEFAULT, DEFAULT, '[5,9)');
CREATE VIEW uses_v AS SELECT a, b FROM uses WHERE a === '3';
-- A tablespace whose name needs quotes (created by the test), holding a table, its key and an index.
CREATE TABLE placed (id int PRIMARY KEY USING INDEX TABLESPACE "Space ""Q"" é", v text) TABLESPACE "Space ""Q"" é";
CREATE INDEX placed_v ON placed (v) TABLESPACE "Space ""Q"" é";
INSERT INTO placed VALUES (1, 'x');
RESET search_path;
`;

/** Large objects: oid 2^32-1, empty, 0-byte written, 5 MB, 2,000 small, other owners, grants, comments. */
const LARGE_OBJECTS = `
SELECT lo_create(4294967295);
SELECT lo_put(4294967295, 0, '\\x00ff00'::bytea);
SELECT lo_create(4294967294);
SELECT lo_from_bytea(4294967293, ''::bytea);
SELECT lo_from_bytea(70000, decode(repeat('0123456789abcdef', 5 * 65536), 'hex') || '\\x01'::bytea);
SELECT lo_from_bytea(100000 + i, convert_to('small ' || i, 'UTF8')) FROM generate_series(1, 2000) i;
ALTER LARGE OBJECT 4294967295 OWNER TO "Hostile Owner";
GRANT SELECT, UPDATE ON LARGE OBJECT 4294967295 TO "reader ""r""" WITH GRANT OPTION;
GRANT SELECT ON LARGE OBJECT 4294967295 TO "écrivain";
COMMENT ON LARGE OBJECT 4294967295 IS 'the last oid';
ALTER LARGE OBJECT 100001 OWNER TO "écrivain";
GRANT UPDATE ON LARGE OBJECT 100002 TO "Hostile Owner", "reader ""r""";
`;

/** CREATE TABLESPACE "Space ""Q"" é" in a directory the server's user owns. */
async function createTablespace(server: PostgresServer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-space-'));
  await chmod(dir, 0o755);
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  await chown(dir, id('-u'), id('-g'));
  await server.sql(`CREATE TABLESPACE "Space ""Q"" é" LOCATION '${dir}'`);
}

async function largeObjects(server: PostgresServer, database: string): Promise<string> {
  const { rows } = await server.sql(
    `SELECT count(*)::text || ':' || md5(string_agg(m.oid::text || '/' || pg_get_userbyid(m.lomowner) || '/' || coalesce(m.lomacl::text, '-')
        || '/' || coalesce(obj_description(m.oid, 'pg_largeobject'), '-') || '/' || md5(lo_get(m.oid)), ',' ORDER BY m.oid)) AS digest
       FROM pg_largeobject_metadata m`,
    database,
  );
  return rows[0].digest;
}

describe('hostile fidelity: quoted names, other owners, grants and edge values in every new kind', () => {
  let server: PostgresServer;
  let repo: string;
  let backupId: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.sql(ROLES);
    await createTablespace(server);
    await server.createDatabase('hostile');
    await server.sql(SOURCE, 'hostile');
    await server.sql(LARGE_OBJECTS, 'hostile');
    repo = await tempRepository();
    const { output } = await runBackup(repo, server.url('hostile'), { chunkBytes: 512 * 1024 });
    backupId = output.backupId;
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('restores verified, with pg_dump (schema, data and large objects) identical and the event triggers not fired', async () => {
    const done = await runRestore(repo, backupId, server.url('hostile_restored'));
    expect(done).toMatchObject({ backupId, verified: true });
    const [before, after] = await Promise.all([schemaDump(server, 'hostile'), schemaDump(server, 'hostile_restored')]);
    expect(before).toContain('CREATE EVENT TRIGGER tidemark_ddl_audit_trail');
    expect(after).toEqual(before);
    expect(await tableContents(server, 'hostile_restored')).toEqual(await tableContents(server, 'hostile'));
    expect(await largeObjects(server, 'hostile_restored')).toEqual(await largeObjects(server, 'hostile'));
    const [withData, withDataAfter] = await Promise.all([
      schemaDump(server, 'hostile', { withData: true }),
      schemaDump(server, 'hostile_restored', { withData: true }),
    ]);
    expect(withDataAfter).toEqual(withData);
  }, 120_000);
  it('keeps every form of a subscription password out of the manifest and the restored catalog', async () => {
    const forms = [
      `host=127.0.0.1 port=1 dbname=x password = 'with spaces s3cr3tA'`,
      `postgresql://u:s3cr3tB@127.0.0.1:1/db`,
      `postgres://u:s3cr3tC%40x@127.0.0.1:1,127.0.0.2:2/db?sslpassword=s3cr3tD&application_name=z`,
      `host=127.0.0.1 port=1 password=s3cr3tE\\ x dbname=y`,
      `postgresql://127.0.0.1:1/db?%70assword=s3cr3tF`,
    ];
    await server.createDatabase('subs');
    for (const [i, form] of forms.entries()) {
      await server.sql(
        `CREATE SUBSCRIPTION "Sub ""${i}"" é" CONNECTION '${form.replaceAll("'", "''")}' PUBLICATION "Pub, ""x""", b
           WITH (connect = false, slot_name = NONE, synchronous_commit = 'remote_apply')`,
        'subs',
      );
    }
    const subsRepo = await tempRepository();
    try {
      const { output, ctx } = await runBackup(subsRepo, server.url('subs'));
      const manifest = JSON.stringify(await readManifest(ctx.storage, output.backupId));
      const done = await runRestore(subsRepo, output.backupId, server.url('subs_restored'));
      expect(done).toMatchObject({ verified: true });
      const subscriptions = async (database: string) =>
        (
          await server.sql(
            `SELECT subname, subconninfo, subpublications::text, subsynccommit FROM pg_subscription s
               JOIN pg_database d ON d.oid = s.subdbid WHERE datname = '${database}' ORDER BY 1`,
          )
        ).rows;
      const restored = await subscriptions('subs_restored');
      expect(restored.length).toBe(forms.length);
      expect(restored.map((r) => [r.subname, r.subpublications, r.subsynccommit])).toEqual(
        (await subscriptions('subs')).map((r) => [r.subname, r.subpublications, r.subsynccommit]),
      );
      const everything = [manifest, JSON.stringify(restored), done.warnings.join('\n')].join('\n');
      expect(everything).toContain('Pub, ');
      for (const secret of ['s3cr3tA', 's3cr3tB', 's3cr3tC', 's3cr3tD', 's3cr3tE', 's3cr3tF'])
        expect(everything).not.toContain(secret);
    } finally {
      await rm(dirname(subsRepo), { recursive: true, force: true });
    }
  }, 120_000);

  it.each([13, 18] as const)(
    'PostgreSQL %i: the same kinds restore verified, rows and large objects equal',
    async (major) => {
      const other = await startPostgres({ major });
      const otherRepo = await tempRepository();
      try {
        await other.sql(ROLES);
        await createTablespace(other);
        await other.createDatabase('hostile');
        await other.sql(SOURCE, 'hostile');
        await other.sql(LARGE_OBJECTS.replace('generate_series(1, 2000)', 'generate_series(1, 20)'), 'hostile');
        const { output } = await runBackup(otherRepo, other.url('hostile'));
        const done = await runRestore(otherRepo, output.backupId, other.url('hostile_restored'));
        expect(done).toMatchObject({ verified: true, warnings: [] });
        expect(await tableContents(other, 'hostile_restored')).toEqual(await tableContents(other, 'hostile'));
        expect(await largeObjects(other, 'hostile_restored')).toEqual(await largeObjects(other, 'hostile'));
        const kinds = `SELECT (SELECT count(*) FROM pg_opclass WHERE opcname LIKE 'Ops%')::int AS opclasses,
          (SELECT count(*) FROM pg_event_trigger)::int AS event_triggers,
          (SELECT count(*) FROM pg_conversion WHERE condefault AND conname LIKE 'Conv%')::int AS conversions,
          (SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
            WHERE t.spcname LIKE 'Space%' AND c.relkind <> 't' AND c.relname NOT LIKE 'pg\\_toast%') AS placed`;
        const before = (await other.sql(kinds, 'hostile')).rows;
        expect(before).toEqual([
          { opclasses: 1, event_triggers: 5, conversions: 1, placed: 'placed,placed_pkey,placed_v' },
        ]);
        expect((await other.sql(kinds, 'hostile_restored')).rows).toEqual(before);
      } finally {
        await other.stop();
        await rm(dirname(otherRepo), { recursive: true, force: true });
      }
    },
    120_000,
  );

  it('onto a server lacking one grantee: each large object keeps its owner and the grants to roles that exist', async () => {
    const other = await startPostgres({ major: 15 });
    try {
      await other.sql(`CREATE ROLE "Hostile Owner" NOLOGIN; CREATE ROLE "écrivain" NOLOGIN`);
      const result = await runCli(['restore', backupId, '--repo', repo, '--target', other.url('landing'), '--json']);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.json).toMatchObject({ ok: true, verified: true });
      const acl = async (oid: number) =>
        (
          await other.sql(
            `SELECT pg_get_userbyid(lomowner) AS owner, lomacl::text AS acl FROM pg_largeobject_metadata WHERE oid = ${oid}`,
            'landing',
          )
        ).rows[0];
      expect(await acl(4294967295)).toEqual({
        owner: 'Hostile Owner',
        acl: '{"\\"Hostile Owner\\"=rw/\\"Hostile Owner\\"","\\"écrivain\\"=r/\\"Hostile Owner\\""}',
      });
      expect(await acl(100001)).toEqual({ owner: 'écrivain', acl: null });
      expect(await acl(100002)).toEqual({
        owner: 'postgres',
        acl: '{postgres=rw/postgres,"\\"Hostile Owner\\"=w/postgres"}',
      });
      const warnings = (result.json.warnings as string[]).join('\n');
      expect(warnings).toContain('large object 4294967295');
    } finally {
      await other.stop();
    }
  }, 120_000);
});

const CONFIG_EXTENSION = `CREATE TABLE @extschema@."Cfg ""T"" é" (id int PRIMARY KEY, "Is ""Std""" boolean NOT NULL DEFAULT false, "Val ue" text);
INSERT INTO @extschema@."Cfg ""T"" é" VALUES (1, true, 'shipped'), (2, true, 'shipped too');
SELECT pg_catalog.pg_extension_config_dump('@extschema@."Cfg ""T"" é"', 'WHERE NOT "Is ""Std"""');
`;

describe('hostile incrementals: large objects rewritten in place or recreated under their oid; configuration rows crossing the filter', () => {
  let server: PostgresServer;
  let repo: string;
  const backups: string[] = [];

  const backupAndRestore = async (): Promise<string> => {
    const { output } = await runBackup(repo, server.url('inc'), { collection: 'inc', chunkBytes: 256 * 1024 });
    backups.push(output.backupId);
    const target = `inc_restored_${backups.length}`;
    const done = await runRestore(repo, output.backupId, server.url(target));
    expect(done).toMatchObject({ verified: true });
    return target;
  };
  const userRows = async (database: string) =>
    (await server.sql('SELECT * FROM "Cfg S é"."Cfg ""T"" é" WHERE NOT "Is ""Std""" ORDER BY id', database)).rows;
  const expectSame = async (target: string) => {
    expect(await largeObjects(server, target)).toEqual(await largeObjects(server, 'inc'));
    expect(await tableContents(server, target)).toEqual(await tableContents(server, 'inc'));
    expect(await userRows(target)).toEqual(await userRows('inc'));
  };

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    const [{ setting }] = (await server.sql(`SELECT setting FROM pg_config WHERE name = 'SHAREDIR'`)).rows;
    await writeFile(
      join(setting, 'extension', 'hostile_cfg.control'),
      "default_version = '1.0'\nrelocatable = false\n",
    );
    await writeFile(join(setting, 'extension', 'hostile_cfg--1.0.sql'), CONFIG_EXTENSION);
    await server.createDatabase('inc');
    await server.sql(
      `CREATE SCHEMA "Cfg S é"; CREATE EXTENSION hostile_cfg SCHEMA "Cfg S é";
       INSERT INTO "Cfg S é"."Cfg ""T"" é" VALUES (10, false, 'mine'), (11, false, 'mine too');
       UPDATE "Cfg S é"."Cfg ""T"" é" SET "Val ue" = 'edited shipped' WHERE id = 2;
       SELECT lo_from_bytea(500, decode(repeat('ab', 300000), 'hex'));
       SELECT lo_from_bytea(501, 'same size'::bytea);
       SELECT lo_create(502);
       SELECT lo_from_bytea(4294967295, 'last'::bytea);
       CREATE TABLE plain (id int PRIMARY KEY); INSERT INTO plain VALUES (1);`,
      'inc',
    );
    repo = await tempRepository();
    const ctx = await openLocalContext(repo, { create: true });
    await createCollection(ctx, {
      name: 'inc',
      source: withoutPassword(server.url('inc')),
      sourceDescription: describeUrl(server.url('inc')),
      retention: { keepLast: 5 },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('each incremental restores the large objects and the user rows as they are at the source', async () => {
    await expectSame(await backupAndRestore());
    // Same sizes, new bytes; an empty one unlinked and recreated with data under its oid; one
    // recreated with the same bytes; a user row moved out of the filter.
    await server.sql(
      `SELECT lo_put(500, 1000, 'XY'::bytea);
       SELECT lo_unlink(501); SELECT lo_from_bytea(501, 'SAME SIZE'::bytea);
       SELECT lo_unlink(502); SELECT lo_from_bytea(502, 'was empty'::bytea);
       SELECT lo_unlink(4294967295); SELECT lo_from_bytea(4294967295, 'last'::bytea);
       UPDATE "Cfg S é"."Cfg ""T"" é" SET "Is ""Std""" = true WHERE id = 11;`,
      'inc',
    );
    const second = await backupAndRestore();
    const ctx = await openLocalContext(repo, { create: false });
    expect((await readManifest(ctx.storage, backups[1]!)).parent).toBe(backups[0]);
    await expectSame(second);
    // Back to an empty object under the same oid, nothing else changed.
    await server.sql(`SELECT lo_unlink(502); SELECT lo_create(502);`, 'inc');
    await expectSame(await backupAndRestore());
  }, 120_000);
});

describe('a SQL_ASCII database whose catalog holds bytes that are not UTF-8', () => {
  let server: PostgresServer;
  let repo: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.sql(`CREATE DATABASE ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    // E'\\xe9' makes the server store the byte 0xe9 (é in Latin-1, never UTF-8); "naïve" is valid UTF-8.
    await server.sql(
      `CREATE TABLE "naïve" (id int PRIMARY KEY, d text DEFAULT E'd\\xe9faut');
       COMMENT ON TABLE "naïve" IS E'caf\\xe9';
       CREATE VIEW v AS SELECT E'caf\\xe9'::text AS x;
       CREATE FUNCTION f() RETURNS text LANGUAGE sql AS E'SELECT ''\\xe9''';
       CREATE FUNCTION fine() RETURNS text LANGUAGE sql AS $$ SELECT 'naïve' $$;
       CREATE INDEX partial ON "naïve" (id) WHERE d <> E'\\xe9';
       CREATE POLICY "p" ON "naïve" USING (d <> E'x\\xe9');
       INSERT INTO "naïve" (id) VALUES (1);`,
      'ascii',
    );
    repo = await tempRepository();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it('is refused naming each object whose name, comment or definition holds them (not only "invalid byte sequence")', async () => {
    const refused = await runCli(['backup', '--source', server.url('ascii'), '--repo', repo]);
    expect(refused.code, describeResult(refused)).toBe(1);
    expect(refused.stderr).toContain(
      `Database 'ascii' is in the SQL_ASCII encoding and the name, option, comment or definition of table public."naïve", view public.v, column d of table public."naïve", function public.f(), index public.partial, policy p on table public."naïve" holds bytes that are not valid UTF-8`,
    );
    expect(refused.stderr).not.toContain('fine()');
    // Put right in UTF-8 as told (the row's default-made value is data: converted in place), it backs up.
    await server.sql(
      `COMMENT ON TABLE "naïve" IS 'café'; CREATE OR REPLACE VIEW v AS SELECT 'café'::text AS x;
       ALTER TABLE "naïve" ALTER d SET DEFAULT 'défaut'; CREATE OR REPLACE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT 'é' $$;
       UPDATE "naïve" SET d = 'défaut'; DROP INDEX partial; DROP POLICY p ON "naïve";`,
      'ascii',
    );
    const taken = await runCli(['backup', '--source', server.url('ascii'), '--repo', repo, '--json']);
    expect(taken.code, describeResult(taken)).toBe(0);
  }, 120_000);

  it('is refused naming each object whose name or options hold them: tables, columns, collations, operator classes and families, foreign-data wrappers, servers, user mappings, foreign tables, function settings', async () => {
    await server.sql(`CREATE DATABASE ascii_names ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    // A quoted name cannot spell a byte: EXECUTE runs an E'' literal's bytes as the statement.
    const bad = (statement: string) => `DO $do$ BEGIN EXECUTE E'${statement.replaceAll("'", "''")}'; END $do$;`;
    await server.sql(
      [
        bad(`CREATE TABLE "t\\xe9" (id int)`),
        bad(`CREATE TABLE named ("c\\xe9" int)`),
        bad(`CREATE COLLATION "coll\\xe9" (provider = libc, locale = 'C')`),
        bad(`CREATE OPERATOR FAMILY "fam\\xe9" USING btree`),
        bad(
          `CREATE OPERATOR CLASS "cls\\xe9" FOR TYPE int4 USING hash AS OPERATOR 1 = (int4, int4), FUNCTION 1 hashint4(int4)`,
        ),
        `CREATE FOREIGN DATA WRAPPER w OPTIONS (note E'w\\xe9');
         CREATE FOREIGN DATA WRAPPER plain_w;
         CREATE SERVER s FOREIGN DATA WRAPPER plain_w OPTIONS (host E'h\\xe9');
         CREATE SERVER plain_s FOREIGN DATA WRAPPER plain_w;
         CREATE USER MAPPING FOR PUBLIC SERVER plain_s OPTIONS (login E'u\\xe9');
         CREATE FOREIGN TABLE ft (a int) SERVER plain_s OPTIONS (tab E't\\xe9');
         CREATE FOREIGN TABLE fc (a int OPTIONS (col E'c\\xe9')) SERVER plain_s;
         CREATE FUNCTION g() RETURNS int LANGUAGE sql SET application_name = E'app\\xe9' AS 'SELECT 1';
         CREATE TABLE clean (id int PRIMARY KEY, note text DEFAULT 'naïve');`,
      ].join('\n'),
      'ascii_names',
    );
    const refused = await runCli(['backup', '--source', server.url('ascii_names'), '--repo', repo]);
    expect(refused.code, describeResult(refused)).toBe(1);
    const named = [
      'table public."t\ufffd"',
      'column c\ufffd of table public.named',
      'collation public."coll\ufffd"',
      'operator family public."fam\ufffd" for access method btree',
      'operator family public."cls\ufffd" for access method hash',
      'operator class public."cls\ufffd" for access method hash',
      'foreign-data wrapper w',
      'server s',
      'user mapping for public on server plain_s',
      'foreign table public.ft',
      'column a of foreign table public.fc',
      'function public.g()',
    ];
    for (const name of named) expect(refused.stderr).toContain(name);
    expect(refused.stderr).not.toMatch(/wrapper plain_w|(?<!on )server plain_s|public\.clean/);

    // Put right in UTF-8, it backs up.
    await server.sql(
      [
        bad(`ALTER TABLE "t\\xe9" RENAME TO "té"`),
        bad(`ALTER TABLE named RENAME "c\\xe9" TO "cé"`),
        bad(`DROP COLLATION "coll\\xe9"`),
        bad(`DROP OPERATOR FAMILY "fam\\xe9" USING btree`),
        bad(`DROP OPERATOR FAMILY "cls\\xe9" USING hash`),
        `ALTER FOREIGN DATA WRAPPER w OPTIONS (SET note 'wé'); ALTER SERVER s OPTIONS (SET host 'hé');
         ALTER USER MAPPING FOR PUBLIC SERVER plain_s OPTIONS (SET login 'ué');
         ALTER FOREIGN TABLE ft OPTIONS (SET tab 'té'); ALTER FOREIGN TABLE fc ALTER a OPTIONS (SET col 'cé');
         ALTER FUNCTION g() SET application_name = 'appé';`,
      ].join('\n'),
      'ascii_names',
    );
    const taken = await runCli(['backup', '--source', server.url('ascii_names'), '--repo', repo, '--json']);
    expect(taken.code, describeResult(taken)).toBe(0);
  }, 120_000);
});

describe('PostgreSQL 18: default privileges on large objects', () => {
  it('back up (they crashed the capture: no keyword for their kind) and restore, as do the grants they gave', async () => {
    const server = await startPostgres({ major: 18 });
    const repo = await tempRepository();
    try {
      await server.sql(ROLES);
      await server.createDatabase('lo18');
      await server.sql(
        `ALTER DEFAULT PRIVILEGES FOR ROLE "Hostile Owner" GRANT SELECT, UPDATE ON LARGE OBJECTS TO "reader ""r""" WITH GRANT OPTION;
         ALTER DEFAULT PRIVILEGES GRANT SELECT ON LARGE OBJECTS TO PUBLIC;
         ALTER DEFAULT PRIVILEGES FOR ROLE "écrivain" REVOKE ALL ON LARGE OBJECTS FROM "écrivain";
         SELECT lo_from_bytea(9, 'made by postgres'::bytea);
         SET ROLE "Hostile Owner"; SELECT lo_from_bytea(10, 'made by the owner'::bytea); RESET ROLE;`,
        'lo18',
      );
      const { output } = await runBackup(repo, server.url('lo18'));
      const done = await runRestore(repo, output.backupId, server.url('lo18_restored'));
      expect(done).toMatchObject({ verified: true, warnings: [] });
      // As sets: a grant replayed after creation lists its entry after the owner's.
      const state = async (database: string) =>
        (
          await server.sql(
            `SELECT 'default ' || pg_get_userbyid(defaclrole) || ' ' || defaclobjtype::text || ' ' || defaclacl::text AS item FROM pg_default_acl
             UNION ALL SELECT 'object ' || m.oid || ' ' || pg_get_userbyid(m.lomowner) || ' ' || a.grantee::regrole::text || ' ' || a.privilege_type || ' ' || a.is_grantable::text
               FROM pg_largeobject_metadata m, aclexplode(m.lomacl) a ORDER BY 1`,
            database,
          )
        ).rows.map((r) => r.item as string);
      const before = await state('lo18');
      expect(before.filter((i) => i.startsWith('default ')).length).toBe(3);
      expect(await state('lo18_restored')).toEqual(before);
    } finally {
      await server.stop();
      await rm(dirname(repo), { recursive: true, force: true });
    }
  }, 120_000);
});

describe('PostgreSQL 18: NOT VALID not-null constraints over rows holding NULLs', () => {
  it('restore (CREATE TABLE made the column NOT NULL and the load failed), added after the data, still not valid', async () => {
    const server = await startPostgres({ major: 18 });
    const repo = await tempRepository();
    try {
      await server.createDatabase('nn18');
      await server.sql(
        `CREATE TABLE "plain ""t""" ("Col ""c""" int, d int NOT NULL);
         INSERT INTO "plain ""t""" VALUES (NULL, 1), (2, 2);
         ALTER TABLE "plain ""t""" ADD CONSTRAINT "NN ""c""" NOT NULL "Col ""c""" NOT VALID;
         CREATE TABLE par (c int); CREATE TABLE ch (e int) INHERITS (par); INSERT INTO ch VALUES (NULL, 1);
         ALTER TABLE par ADD CONSTRAINT par_nn NOT NULL c NOT VALID;
         CREATE TABLE pt (k int, c int) PARTITION BY LIST (k); CREATE TABLE pt1 PARTITION OF pt FOR VALUES IN (1);
         INSERT INTO pt VALUES (1, NULL);
         ALTER TABLE pt ADD CONSTRAINT pt_nn NOT NULL c NOT VALID;`,
        'nn18',
      );
      const { output } = await runBackup(repo, server.url('nn18'));
      const done = await runRestore(repo, output.backupId, server.url('nn18_restored'));
      expect(done).toMatchObject({ verified: true, warnings: [] });
      const state = async (database: string) =>
        (
          await server.sql(
            `SELECT co.conrelid::regclass::text AS rel, co.conname, pg_get_constraintdef(co.oid) AS def, co.convalidated, co.conislocal,
               a.attnotnull FROM pg_constraint co JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = co.conkey[1]
             WHERE co.contype = 'n' AND co.connamespace = 'public'::regnamespace ORDER BY 1, 2`,
            database,
          )
        ).rows;
      const before = await state('nn18');
      expect(before.filter((c) => !c.convalidated).length).toBe(5);
      expect(await state('nn18_restored')).toEqual(before);
      expect(await tableContents(server, 'nn18_restored')).toEqual(await tableContents(server, 'nn18'));
    } finally {
      await server.stop();
      await rm(dirname(repo), { recursive: true, force: true });
    }
  }, 120_000);
});

describe('PostgreSQL 18: subscription options', () => {
  it('restore as they were, streaming off included (18 made parallel the default, and off was not written)', async () => {
    const server = await startPostgres({ major: 18 });
    const repo = await tempRepository();
    try {
      await server.createDatabase('subs18');
      await server.sql(
        `CREATE SUBSCRIPTION "S ""1""" CONNECTION 'host=127.0.0.1 port=1 dbname=x password=s3cr3t' PUBLICATION "P ""1"""
           WITH (connect = false, slot_name = 'my_slot', origin = none, failover = true, two_phase = true, streaming = parallel,
                 password_required = false, run_as_owner = true, disable_on_error = true, binary = true, synchronous_commit = 'remote_write');
         CREATE SUBSCRIPTION "off" CONNECTION 'host=127.0.0.1 port=1 dbname=x' PUBLICATION p WITH (connect = false, slot_name = NONE, streaming = off);
         CREATE SUBSCRIPTION "on" CONNECTION 'host=127.0.0.1 port=1 dbname=x' PUBLICATION p WITH (connect = false, slot_name = NONE, streaming = on);`,
        'subs18',
      );
      const { output } = await runBackup(repo, server.url('subs18'));
      const done = await runRestore(repo, output.backupId, server.url('subs18_restored'));
      expect(done).toMatchObject({ verified: true });
      const options = async (database: string) =>
        (
          await server.sql(
            `SELECT subname, subslotname, suborigin, subfailover, subtwophasestate, substream, subpasswordrequired, subrunasowner,
               subdisableonerr, subbinary, subsynccommit, subpublications::text, subenabled
             FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid WHERE datname = '${database}' ORDER BY 1`,
          )
        ).rows;
      const before = await options('subs18');
      expect(before.map((s) => s.substream)).toEqual(['p', 'f', 't']);
      expect(await options('subs18_restored')).toEqual(before.map((s) => ({ ...s, subenabled: false })));
    } finally {
      await server.stop();
      await rm(dirname(repo), { recursive: true, force: true });
    }
  }, 120_000);
});
