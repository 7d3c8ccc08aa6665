// Backups and restores by roles that are not superusers, as on RDS and Aurora, where even the
// master user is not one. A backup must hold every row or fail before exporting anything: a role
// that row-level security applies to would otherwise save only the rows its policies let through,
// and the backup would look complete (it did, before the access check). A restore gives objects
// to the owners the restoring role can act as (is a member of), replays grants as their grantors
// with SET ROLE, and leaves the rest to itself with a warning, never granting through an object
// it owns in another role's stead.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { runBackup, runRestore, tempRepository } from '../support/pipeline.ts';
import { loadFidelityFixture, schemaDump, tableContents } from '../support/database-state.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { InProcessCredentials } from '#local/credentials.ts';
import { openSnapshotSession } from '#core/backup/snapshot-session.ts';
import type { TaskContext } from '#core/task-context.ts';

const PASSWORD = 'least-privilege-pw';
let server: PostgresServer;

/** The URL of `database` for `role` (which logs in with PASSWORD). */
const urlAs = (role: string, database: string) => {
  const url = new URL(server.url(database));
  url.username = role;
  url.password = PASSWORD;
  return url.toString();
};

beforeAll(async () => {
  server = await startPostgres();
  await server.createDatabase('shop');
  await server.sql(
    `CREATE ROLE shop_owner LOGIN PASSWORD '${PASSWORD}';
     CREATE ROLE filtered_reader LOGIN PASSWORD '${PASSWORD}';
     CREATE ROLE partial_reader LOGIN PASSWORD '${PASSWORD}';
     CREATE ROLE schema_outsider LOGIN PASSWORD '${PASSWORD}';`,
  );
  await server.sql(
    `CREATE TABLE orders (id int PRIMARY KEY, seller text NOT NULL);
     INSERT INTO orders SELECT i, CASE WHEN i % 4 = 0 THEN 'filtered_reader' ELSE 'someone' END FROM generate_series(1, 2000) i;
     ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
     CREATE POLICY own_orders ON orders USING (seller = current_user);
     CREATE TABLE notes (id int PRIMARY KEY, body text);
     INSERT INTO notes SELECT i, 'note ' || i FROM generate_series(1, 50) i;
     CREATE TABLE secrets (id int PRIMARY KEY, code text);
     ALTER TABLE orders OWNER TO shop_owner;
     ALTER TABLE notes OWNER TO shop_owner;
     ALTER TABLE secrets OWNER TO shop_owner;
     GRANT SELECT ON orders, notes, secrets TO filtered_reader;
     GRANT SELECT ON orders TO partial_reader;
     GRANT SELECT (id) ON secrets TO partial_reader;
     CREATE TABLE columns_only (id int PRIMARY KEY, label text);
     INSERT INTO columns_only VALUES (1, 'one');
     ALTER TABLE columns_only OWNER TO shop_owner;
     GRANT SELECT (id, label) ON columns_only TO partial_reader;
     GRANT SELECT ON columns_only TO filtered_reader;
     CREATE SCHEMA "Back Office" AUTHORIZATION shop_owner;
     CREATE TABLE "Back Office".ledger (id int PRIMARY KEY);
     ALTER TABLE "Back Office".ledger OWNER TO shop_owner;
     GRANT SELECT ON ALL TABLES IN SCHEMA public, "Back Office" TO schema_outsider;
     GRANT USAGE ON SCHEMA "Back Office" TO filtered_reader, partial_reader;
     GRANT SELECT ON "Back Office".ledger TO filtered_reader, partial_reader;`,
    'shop',
  );
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function chunkFiles(repo: string): Promise<string[]> {
  return (await readdir(join(repo, 'chunks'), { recursive: true }).catch(() => [])).filter((f) => !f.endsWith('/'));
}

describe('backup by a role that cannot read every row', () => {
  it('row-level security applies to the role: exit 1 before any chunk, naming the table and what to do; recorded failed', async () => {
    // The trap this guards against: the role can SELECT, and a query returns 500 of the 2000 rows.
    const client = new pg.Client({ connectionString: urlAs('filtered_reader', 'shop') });
    await client.connect();
    expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(500);
    await client.end();

    const repo = await tempRepository();
    const result = await runCli(['backup', '--source', urlAs('filtered_reader', 'shop'), '--repo', repo, '--json']);
    const context = describeResult(result);
    expect(result.code, context).toBe(1);
    expect(result.stderr, context).toContain('Role "filtered_reader" cannot read every row');
    expect(result.stderr, context).toContain('row-level security applies to it on "public"."orders"');
    expect(result.stderr, context).toContain('BYPASSRLS');
    expect(result.stderr, context).not.toMatch(/"notes"|"secrets"/);
    expect(result.stderr + result.stdout, context).not.toContain(PASSWORD);
    expect(await chunkFiles(repo)).toEqual([]);
    const list = await runCli(['list', '--repo', repo, '--json']);
    expect(
      list.json.map((b: any) => b.state),
      describeResult(list),
    ).toEqual(['failed']);
    expect(list.json[0].error).toContain('"public"."orders"');
  });

  it('no SELECT on some tables: one error naming each of them, before any chunk', async () => {
    const repo = await tempRepository();
    const result = await runCli(['backup', '--source', urlAs('partial_reader', 'shop'), '--repo', repo]);
    const context = describeResult(result);
    expect(result.code, context).toBe(1);
    // SELECT on columns is not enough, even on all of them: ranged and incremental exports read ctid and xmin.
    expect(result.stderr, context).toMatch(
      /no SELECT privilege on "public"\."notes", "public"\."secrets", "public"\."columns_only":/,
    );
    // orders is readable but filtered for this role too.
    expect(result.stderr, context).toContain('row-level security applies to it on "public"."orders"');
    expect(await chunkFiles(repo)).toEqual([]);
  });

  it('no USAGE on a schema: the error names the schema and the GRANT to run', async () => {
    const repo = await tempRepository();
    const result = await runCli(['backup', '--source', urlAs('schema_outsider', 'shop'), '--repo', repo]);
    const context = describeResult(result);
    expect(result.code, context).toBe(1);
    expect(result.stderr, context).toContain(
      'it has no USAGE privilege on schema "Back Office": grant it (GRANT USAGE ON SCHEMA … TO "schema_outsider")',
    );
    expect(result.stderr, context).not.toContain('ledger');
    expect(await chunkFiles(repo)).toEqual([]);
  });

  it('no SELECT on sequences: one error naming each, with the GRANT to run, before any chunk', async () => {
    await server.createDatabase('counters');
    await server.sql(
      `CREATE TABLE counted (id serial PRIMARY KEY, n int); INSERT INTO counted (n) VALUES (1), (2);
       CREATE SEQUENCE spare; GRANT SELECT ON counted TO partial_reader;`,
      'counters',
    );
    const repo = await tempRepository();
    const result = await runCli(['backup', '--source', urlAs('partial_reader', 'counters'), '--repo', repo]);
    const context = describeResult(result);
    expect(result.code, context).toBe(1);
    expect(result.stderr, context).toContain(
      'Role "partial_reader" cannot read the state of sequence public.counted_id_seq, public.spare, so nothing was exported: ' +
        'grant it SELECT on them and USAGE on their schemas (GRANT SELECT ON SEQUENCE … TO partial_reader)',
    );
    expect(await chunkFiles(repo)).toEqual([]);
    await server.sql('GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO partial_reader', 'counters');
    const again = await runCli(['backup', '--source', urlAs('partial_reader', 'counters'), '--repo', repo, '--json']);
    expect(again.code, describeResult(again)).toBe(0);
    expect(again.json.rows).toBe(2);
  });

  it('the owner of the tables, which RLS does not apply to, backs up every row', async () => {
    const repo = await tempRepository();
    const result = await runCli(['backup', '--source', urlAs('shop_owner', 'shop'), '--repo', repo, '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.rows).toBe(2051); // the ledger is empty
  });

  it('a role with pg_read_all_data and BYPASSRLS, the usual managed-service backup role, backs up the fidelity fixture exactly', async () => {
    await server.createDatabase('everything');
    await loadFidelityFixture(server, 'everything');
    await server.sql(
      `CREATE ROLE backup_role LOGIN BYPASSRLS PASSWORD '${PASSWORD}'; GRANT pg_read_all_data TO backup_role`,
    );
    const repo = await tempRepository();
    const { output } = await runBackup(repo, urlAs('backup_role', 'everything'));
    expect(output.warnings).toBe(0);
    await runRestore(repo, output.backupId, server.url('everything_copy'));
    expect(await tableContents(server, 'everything_copy')).toEqual(await tableContents(server, 'everything'));
    expect(await schemaDump(server, 'everything_copy')).toBe(await schemaDump(server, 'everything'));
  });

  it('an export session never reads a subset: a query that a policy would filter fails with the reason and the way out', async () => {
    // The export runs on snapshot sessions (and the restore's read-back sets the same); the
    // access check before the export cannot see a policy that comes into force later, this can.
    const connector = new PostgresConnector(
      new InProcessCredentials().register('reader', urlAs('filtered_reader', 'shop')),
    );
    const holder = await connector.connect({ credentials: 'reader' });
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const [{ snapshot }] = await holder.query<{ snapshot: string }>('SELECT pg_export_snapshot() AS snapshot');
    const ctx = { databases: connector } as unknown as TaskContext;
    const session = await openSnapshotSession(ctx, { credentials: 'reader' }, snapshot!, 'test');
    try {
      await expect(session.query('SELECT count(*) FROM orders')).rejects.toThrow(
        /row-level security policy for table "orders".*would see only the rows its policies allow.*BYPASSRLS/,
      );
    } finally {
      await session.close();
      await holder.close();
    }
  });
});

describe('restore by a role that is not a superuser (CREATEDB, CREATEROLE, member of some roles)', () => {
  let repo: string;
  let backupId: string;

  beforeAll(async () => {
    await server.createDatabase('app');
    await server.sql(
      `CREATE ROLE app_owner NOLOGIN; CREATE ROLE app_admin NOLOGIN; CREATE ROLE app_reader NOLOGIN; CREATE ROLE outsider NOLOGIN;
       CREATE ROLE restorer LOGIN CREATEDB CREATEROLE PASSWORD '${PASSWORD}';
       GRANT app_owner, app_admin, app_reader TO restorer;`,
    );
    await server.sql(
      `CREATE SCHEMA shop AUTHORIZATION app_owner;
       GRANT USAGE ON SCHEMA shop TO app_admin, app_reader;
       CREATE TABLE shop.items (id int PRIMARY KEY, name text NOT NULL);
       INSERT INTO shop.items SELECT i, 'item ' || i FROM generate_series(1, 300) i;
       ALTER TABLE shop.items OWNER TO app_owner;
       GRANT SELECT ON shop.items TO app_admin WITH GRANT OPTION;
       SET ROLE app_admin; GRANT SELECT ON shop.items TO app_reader; RESET ROLE;
       ALTER TABLE shop.items ENABLE ROW LEVEL SECURITY;
       CREATE POLICY readers ON shop.items FOR SELECT TO app_reader USING (id <= 100);
       CREATE TABLE shop.audit (at timestamptz NOT NULL, what text);
       INSERT INTO shop.audit SELECT timestamptz '2026-01-01' + i * interval '1 hour', 'event ' || i FROM generate_series(1, 40) i;
       ALTER TABLE shop.audit OWNER TO outsider;
       GRANT SELECT ON shop.audit TO app_reader;
       CREATE FUNCTION shop.audit_size() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT count(*) FROM shop.audit $$;
       ALTER FUNCTION shop.audit_size() OWNER TO outsider;
       CREATE VIEW shop.item_names AS SELECT name FROM shop.items;
       ALTER VIEW shop.item_names OWNER TO app_owner;
       GRANT SELECT ON shop.item_names TO app_reader;`,
      'app',
    );
    repo = await tempRepository();
    ({ backupId } = (await runBackup(repo, server.url('app'))).output);
  }, 120_000);

  it('restores every row, verified; owners it can act as are kept, the others become its own with a warning; no grant made in their stead', async () => {
    const result = await runRestore(repo, backupId, urlAs('restorer', 'app_copy'));
    expect(result.verified).toBe(true);
    expect(await tableContents(server, 'app_copy')).toEqual(await tableContents(server, 'app'));

    const owners = await server.sql(
      `SELECT format('%s %s', c.relname, pg_get_userbyid(c.relowner)) AS o FROM pg_class c
        WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('r', 'v')
       UNION ALL SELECT format('%s %s', p.proname, pg_get_userbyid(p.proowner)) FROM pg_proc p WHERE p.pronamespace = 'shop'::regnamespace
       UNION ALL SELECT format('schema %s', pg_get_userbyid(n.nspowner)) FROM pg_namespace n WHERE n.nspname = 'shop'
       ORDER BY 1`,
      'app_copy',
    );
    expect(owners.rows.map((r) => r.o)).toEqual([
      'audit restorer',
      'audit_size restorer',
      'item_names app_owner',
      'items app_owner',
      'schema app_owner',
    ]);

    // The grant app_admin made is replayed as app_admin (SET ROLE: only a superuser may SET SESSION AUTHORIZATION).
    const acl = await server.sql(
      `SELECT c.relname, c.relacl::text AS acl FROM pg_class c WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1`,
      'app_copy',
    );
    const aclOf = Object.fromEntries(acl.rows.map((r) => [r.relname, r.acl]));
    expect(aclOf.items).toContain('app_reader=r/app_admin');
    expect(aclOf.items).toContain('app_admin=r*/app_owner');
    expect(aclOf.item_names).toContain('app_reader=r/app_owner');
    // audit is the restorer's now: granting app_reader would be the restorer's grant, not outsider's.
    expect(aclOf.audit ?? '').not.toContain('app_reader');
    // The SECURITY DEFINER function would run as the restorer: nobody but its owner may call it.
    const callers = await server.sql(
      `SELECT has_function_privilege('app_reader', 'shop.audit_size()', 'EXECUTE') AS reader,
              has_function_privilege('app_owner', 'shop.audit_size()', 'EXECUTE') AS owner_role`,
      'app_copy',
    );
    expect(callers.rows[0]).toEqual({ reader: false, owner_role: false });
    const policy = await server.sql(
      `SELECT pg_get_userbyid(unnest(polroles)) AS role FROM pg_policy WHERE polname = 'readers'`,
      'app_copy',
    );
    expect(policy.rows).toEqual([{ role: 'app_reader' }]);

    const warnings = result.warnings.join('\n');
    expect(result.warningCount, warnings).toBe(3);
    expect(warnings).toContain(
      'skipped owner statement for table shop.audit: the restoring role "restorer" cannot act as role "outsider"',
    );
    expect(warnings).toContain('GRANT outsider TO restorer');
    expect(warnings).toMatch(
      /skipped acl statement for table shop\.audit: the restoring role "restorer" cannot act as role "outsider"/,
    );
  });

  it('onto PostgreSQL 18, where membership without the SET option does not let a role act as another: skipped there too', async () => {
    const newer = await startPostgres({ major: 18 });
    try {
      await newer.sql(
        `CREATE ROLE app_owner NOLOGIN; CREATE ROLE app_admin NOLOGIN; CREATE ROLE app_reader NOLOGIN; CREATE ROLE outsider NOLOGIN;
         CREATE ROLE restorer LOGIN CREATEDB PASSWORD '${PASSWORD}';
         GRANT app_owner, app_admin, app_reader TO restorer;
         GRANT outsider TO restorer WITH INHERIT TRUE, SET FALSE;`,
      );
      const url = new URL(newer.url('app_copy'));
      url.username = 'restorer';
      url.password = PASSWORD;
      const result = await runRestore(repo, backupId, url.toString());
      expect(result.verified).toBe(true);
      expect(await tableContents(newer, 'app_copy')).toEqual(await tableContents(server, 'app'));
      const owners = await newer.sql(
        `SELECT format('%s %s', c.relname, pg_get_userbyid(c.relowner)) AS o FROM pg_class c
          WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind = 'r' ORDER BY 1`,
        'app_copy',
      );
      expect(owners.rows.map((r) => r.o)).toEqual(['audit restorer', 'items app_owner']);
      const [items] = (
        await newer.sql(`SELECT relacl::text AS acl FROM pg_class WHERE oid = 'shop.items'::regclass`, 'app_copy')
      ).rows;
      expect(items.acl).toContain('app_reader=r/app_admin');
      expect(result.warnings.join('\n')).toContain('cannot act as role "outsider"');
    } finally {
      await newer.stop();
    }
  });

  it('a REVOKE the restoring role cannot carry out (public schema of a PostgreSQL 13 target, owned by the bootstrap superuser) is a warning, not silence', async () => {
    const old = await startPostgres({ major: 13 });
    try {
      // A role that hides warnings must still hear this one: sessions ask for warnings at start-up.
      await old.sql(
        `CREATE ROLE restorer LOGIN CREATEDB PASSWORD '${PASSWORD}'; ALTER ROLE restorer SET client_min_messages = 'error'`,
      );
      await old.createDatabase('hardened');
      await old.sql(
        `REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1), (2)`,
        'hardened',
      );
      const oldRepo = await tempRepository();
      const { output } = await runBackup(oldRepo, old.url('hardened'));
      const url = new URL(old.url('hardened_copy'));
      url.username = 'restorer';
      url.password = PASSWORD;
      const result = await runRestore(oldRepo, output.backupId, url.toString());
      // PostgreSQL only warns; PUBLIC keeps CREATE on the target's public schema, and the restore says so.
      const [publicSchema] = (
        await old.sql(`SELECT has_schema_privilege('restorer', 'public', 'CREATE') AS open`, 'hardened_copy')
      ).rows;
      expect(publicSchema.open).toBe(true);
      const warning = result.warnings.find((w) => w.includes('no privileges could be revoked'));
      expect(warning, result.warnings.join('\n')).toMatch(
        /^schema public: no privileges could be revoked for "public" \(running REVOKE CREATE ON SCHEMA public FROM PUBLIC\): the privilege stays where the source had revoked it\. The restoring role "restorer"/,
      );
      expect(warning).toContain('or restore as a superuser');
      expect((await old.sql('SELECT count(*)::int AS n FROM public.t', 'hardened_copy')).rows[0].n).toBe(2);
    } finally {
      await old.stop();
    }
  });

  it('an object only a superuser may create: the restore stops naming it, and says the restoring role is not a superuser', async () => {
    await server.createDatabase('leaky');
    await server.sql(
      `CREATE FUNCTION public.positive(x int) RETURNS boolean LANGUAGE sql IMMUTABLE LEAKPROOF AS $$ SELECT x > 0 $$`,
      'leaky',
    );
    const leakyRepo = await tempRepository();
    const { output } = await runBackup(leakyRepo, server.url('leaky'));
    await expect(runRestore(leakyRepo, output.backupId, urlAs('restorer', 'leaky_copy'))).rejects.toThrow(
      /Restoring function public\.positive\(x integer\) failed: only superuser can define a leakproof function \(the restoring role "restorer" is not a superuser/,
    );
  });
});
