// DESIGN invariant 11: a restore is "verified" only if the owners, privileges and event triggers
// the backup restores are there (schema/privilege-state.ts, restore/verify-privileges.ts). A grant
// lost after the restore applied it — a concurrent session revokes it between Finish and Verify —
// and an event trigger gone before Complete commits fail the restore, naming the object, the
// expected and the actual privileges; a restore by a role that is not a superuser, onto a server
// that lacks a grantee, still verifies, with a warning for each privilege it could not restore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '#test/support/pipeline.ts';
import { tableContents } from '#test/support/database-state.ts';
import { openLocalContext } from '#local/local-context.ts';
import { runStateMachine, type RunOptions } from '#local/state-machine-runner.ts';
import { restoreRunInput } from '#core/restore/run-input.ts';
import type { SqlSession } from '#core/ports/database.ts';

const PASSWORD = 'verify-privileges-pw';
const LARGE_OBJECTS = 2000;

const SOURCE = `
  CREATE ROLE vp_owner NOLOGIN; CREATE ROLE vp_reader NOLOGIN; CREATE ROLE vp_gone NOLOGIN;
  CREATE SCHEMA vp AUTHORIZATION vp_owner;
  GRANT USAGE ON SCHEMA vp TO vp_reader;
  CREATE TABLE vp.t (id int PRIMARY KEY, secret text);
  INSERT INTO vp.t SELECT i, 'row ' || i FROM generate_series(1, 50) i;
  ALTER TABLE vp.t OWNER TO vp_owner;
  GRANT SELECT ON vp.t TO vp_reader;
  GRANT UPDATE (secret) ON vp.t TO vp_reader;
  GRANT SELECT ON vp.t TO vp_gone;
  CREATE FUNCTION vp.f(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
  ALTER FUNCTION vp.f(int) OWNER TO vp_owner;
  REVOKE EXECUTE ON FUNCTION vp.f(int) FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION vp.f(int) TO vp_reader;
  REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC;
  GRANT USAGE ON LANGUAGE plpgsql TO vp_reader;
  ALTER DEFAULT PRIVILEGES FOR ROLE vp_owner IN SCHEMA vp GRANT SELECT ON TABLES TO vp_reader;
  CREATE FUNCTION vp.log_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
  CREATE EVENT TRIGGER vp_log ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION vp.log_ddl();
  ALTER EVENT TRIGGER vp_log ENABLE ALWAYS;
  -- Large objects: many, owned by vp_owner; every tenth readable by vp_reader, the first by vp_gone.
  SELECT pg_catalog.lo_from_bytea(0, pg_catalog.convert_to('large object ' || i, 'UTF8')) FROM generate_series(1, ${LARGE_OBJECTS}) i;
  DO $$ DECLARE o oid; n int := 0; BEGIN
    FOR o IN SELECT oid FROM pg_largeobject_metadata ORDER BY oid LOOP
      EXECUTE format('ALTER LARGE OBJECT %s OWNER TO vp_owner', o);
      IF n % 10 = 0 THEN EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO vp_reader', o); END IF;
      IF n = 0 THEN EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO vp_gone', o); END IF;
      n := n + 1;
    END LOOP;
  END $$;`;

let server: PostgresServer;
let repo: string;
let backupId: string;
let firstLargeObject: number;

beforeAll(async () => {
  server = await startPostgres({ major: 15 });
  await server.createDatabase('vp_source');
  await server.sql(SOURCE, 'vp_source');
  firstLargeObject = Number(
    (await server.sql('SELECT min(oid)::int8 AS o FROM pg_largeobject_metadata', 'vp_source')).rows[0].o,
  );
  repo = await tempRepository();
  ({ backupId } = (await runBackup(repo, server.url('vp_source'))).output);
}, 180_000);

afterAll(async () => {
  await server?.stop();
  if (repo) await rm(dirname(repo), { recursive: true, force: true });
});

/** The catalog check's time, from the restore's VerifyBatch output. */
function catalogTiming(): { options: RunOptions; ms: () => number | undefined } {
  let ms: number | undefined;
  return {
    ms: () => ms,
    options: {
      aroundTask: async (fn, run) => {
        const output = await run();
        const catalog = (output as { catalog?: { ms: number } } | undefined)?.catalog;
        if (fn === 'RestoreVerifyBatch' && catalog) ms = catalog.ms;
        return output;
      },
    },
  };
}

describe('a restore is verified only if its privileges and event triggers came back', () => {
  it('an untouched restore verifies, with its 2,000 large objects (the catalog check is timed)', async () => {
    const timing = catalogTiming();
    const result = await runRestore(repo, backupId, server.url('vp_plain'), timing.options);
    expect(result).toMatchObject({ verified: true });
    expect(timing.ms()).toBeTypeOf('number');
    console.log(`catalog check with privileges, ${LARGE_OBJECTS} large objects: ${timing.ms()} ms`);
    const [{ acl }] = (
      await server.sql(`SELECT relacl::text AS acl FROM pg_class WHERE oid = 'vp.t'::regclass`, 'vp_plain')
    ).rows;
    expect(acl).toContain('vp_reader=r/vp_owner');
  });

  it('fails, naming each object with the expected and the actual privileges, when a session revokes grants between Finish and Verify', async () => {
    const lo = firstLargeObject + 10; // granted to vp_reader
    const err = await runRestore(repo, backupId, server.url('vp_revoked'), {
      // A concurrent session on the target, once Finish has applied the grants: real statements,
      // committed before Verify reads the catalog.
      aroundTask: async (fn, run) => {
        const output = await run();
        if (fn === 'RestoreFinish') {
          await server.sql(
            `REVOKE SELECT ON vp.t FROM vp_reader;
             REVOKE SELECT ON LARGE OBJECT ${lo} FROM vp_reader;
             GRANT USAGE ON LANGUAGE plpgsql TO PUBLIC;
             ALTER DEFAULT PRIVILEGES FOR ROLE vp_owner IN SCHEMA vp REVOKE SELECT ON TABLES FROM vp_reader;
             ALTER FUNCTION vp.f(int) OWNER TO postgres;`,
            'vp_revoked',
          );
        }
        return output;
      },
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const message = err!.message;
    expect(message).toMatch(/VerificationError|catalog does not match/);
    expect(message).toContain(
      'table vp.t has default +vp_gone=SELECT (expected default +vp_gone=SELECT +vp_reader=SELECT, as the backup restores them)',
    );
    expect(message).toContain(
      `large object ${lo} has owner vp_owner, the default privileges (owner vp_owner, default +vp_reader=SELECT at the source)`,
    );
    expect(message).toContain(
      'language plpgsql has default +vp_reader=USAGE (default -PUBLIC=USAGE +vp_reader=USAGE at the source)',
    );
    expect(message).toContain(
      'default privileges for role vp_owner in schema vp on tables has the built-in default privileges (default +vp_reader=SELECT at the source)',
    );
    expect(message).toContain('function vp.f(integer) is owned by postgres (vp_owner at the source)');
    expect(message).toMatch(/do not use it as is/);
    // Only what the session changed differs: vp_gone's grant and the column's came back.
    expect(message).not.toMatch(/column secret|function vp\.f\(integer\) has|(: |; )schema vp /);
  });

  it('fails when an event trigger is gone before Complete commits (fault injection: see below)', async () => {
    // Complete creates the event triggers and checks them in one transaction, which no other
    // session can see into, and event triggers do not fire on event trigger DDL: no real
    // statement of another session or of the target can remove one there. So the fault is
    // injected: the Complete session runs DROP EVENT TRIGGER once it has created it and set its
    // enable state.
    const ctx = await openLocalContext(repo, { create: false });
    ctx.credentials.register('target', server.url('vp_no_event_trigger'));
    const connect = ctx.databases.connect.bind(ctx.databases);
    ctx.databases.connect = async (ref, options) => {
      const session: SqlSession = await connect(ref, options);
      if (options?.applicationName !== 'tidemark complete') return session;
      return {
        ...session,
        query: async (sql, params) => {
          const rows = await session.query(sql, params);
          if (sql === 'ALTER EVENT TRIGGER vp_log ENABLE ALWAYS') await session.query('DROP EVENT TRIGGER vp_log');
          return rows;
        },
        takeWarnings: () => session.takeWarnings(),
        close: () => session.close(),
      } as SqlSession;
    };
    const input = restoreRunInput({ backup: backupId, target: { credentials: 'target' } });
    const err = await runStateMachine('restore', input, ctx).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/event triggers do not match the backup: event trigger vp_log is missing/);
    // Rolled back with it: no event trigger, and the progress schema is still there.
    const state = await server.sql(
      `SELECT (SELECT count(*) FROM pg_event_trigger)::int AS triggers, to_regnamespace('_tidemark_restore') IS NOT NULL AS progress`,
      'vp_no_event_trigger',
    );
    expect(state.rows).toEqual([{ triggers: 0, progress: true }]);
  });

  it('onto PostgreSQL 18, where owners also hold MAINTAIN, the same backup restores verified (privileges compare as changes from the default)', async () => {
    const newer = await startPostgres({ major: 18 });
    try {
      await newer.sql('CREATE ROLE vp_owner NOLOGIN; CREATE ROLE vp_reader NOLOGIN; CREATE ROLE vp_gone NOLOGIN');
      const result = await runRestore(repo, backupId, newer.url('vp_18'));
      expect(result).toMatchObject({ verified: true, warningCount: 0 });
      const { rows } = await newer.sql(
        `SELECT relacl::text AS acl FROM pg_class WHERE oid = 'vp.t'::regclass`,
        'vp_18',
      );
      expect(rows[0].acl).toContain('vp_owner=arwdDxtm/vp_owner');
    } finally {
      await newer.stop();
    }
  }, 180_000);

  it('a restore by a role that is not a superuser, onto a server without a grantee role, verifies with a warning for each privilege it skipped', async () => {
    const other = await startPostgres({ major: 15 });
    try {
      await other.sql(
        `CREATE ROLE vp_owner NOLOGIN; CREATE ROLE vp_reader NOLOGIN;
         CREATE ROLE restorer LOGIN CREATEDB PASSWORD '${PASSWORD}';
         GRANT vp_owner, vp_reader TO restorer;`,
      );
      const url = new URL(other.url('vp_copy'));
      url.username = 'restorer';
      url.password = PASSWORD;
      const result = await runRestore(repo, backupId, url.toString());
      expect(result).toMatchObject({ verified: true });
      const all = result.warnings.join('\n');
      expect(all).toMatch(/^skipped acl statement for table vp\.t: role "vp_gone" does not exist on the target$/m);
      expect(all).toMatch(
        new RegExp(
          `^skipped acl statement for large object ${firstLargeObject}: role "vp_gone" does not exist on the target$`,
          'm',
        ),
      );
      expect(all).toMatch(/^event trigger vp_log was not created: the restoring role "restorer" may not/m);
      expect(await tableContents(other, 'vp_copy')).toEqual(await tableContents(server, 'vp_source'));
      // What it could restore, it did: the reader's grants are there.
      const client = new pg.Client({ connectionString: other.url('vp_copy') });
      await client.connect();
      try {
        const { rows } = await client.query(
          `SELECT has_table_privilege('vp_reader', 'vp.t', 'SELECT') AS t,
                  has_function_privilege('vp_reader', 'vp.f(int)', 'EXECUTE') AS f,
                  (SELECT lomacl::text FROM pg_largeobject_metadata WHERE oid = $1) AS lo`,
          [firstLargeObject + 10],
        );
        expect(rows).toEqual([{ t: true, f: true, lo: '{vp_owner=rw/vp_owner,vp_reader=r/vp_owner}' }]);
      } finally {
        await client.end();
      }
    } finally {
      await other.stop();
    }
  }, 180_000);
});
