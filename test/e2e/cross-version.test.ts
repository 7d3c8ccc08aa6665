// Portability (DESIGN.md invariant 9): a backup taken from PostgreSQL 15 restores into
// PostgreSQL 18, and one taken from PostgreSQL 13 (the oldest supported major, which has no TID
// range scans) into 15, with every row, sequence value, index, constraint and view intact.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { describeResult, runCli } from '../support/cli.ts';
import { compareDatabases, compareTable, withClient } from '../support/compare.ts';

let pg13: PostgresServer;
let pg15: PostgresServer;
let pg18: PostgresServer;
let scratch: string;

const SCHEMA = String.raw`
CREATE SCHEMA sales;
CREATE TYPE sales.status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE DOMAIN sales.positive_amount AS numeric(12,2) CHECK (VALUE >= 0);
CREATE SEQUENCE sales.invoice_no START 1000 INCREMENT 7;

CREATE TABLE sales.customers (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  email       varchar(200) UNIQUE,
  born        date,
  vip         boolean NOT NULL DEFAULT false,
  tags        text[],
  profile     jsonb,
  ip          inet,
  external_id uuid,
  created_at  timestamptz NOT NULL DEFAULT '2024-01-01 00:00:00+00'
);

CREATE TABLE sales.orders (
  id          serial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES sales.customers(id) ON DELETE CASCADE,
  status      sales.status NOT NULL DEFAULT 'new',
  total       sales.positive_amount,
  invoice     bigint UNIQUE DEFAULT nextval('sales.invoice_no'),
  weight      double precision,
  ratio       real,
  wait        interval,
  placed_at   timestamp,
  note        text,
  blob        bytea,
  CHECK (weight IS NULL OR weight > 0)
);
CREATE INDEX orders_customer_placed ON sales.orders (customer_id, placed_at DESC);
CREATE INDEX orders_open ON sales.orders (status) WHERE status IN ('new', 'paid');

CREATE TABLE public.events (
  at      timestamptz NOT NULL,
  kind    text COLLATE "C",
  payload json,
  counts  int[]
);

CREATE VIEW sales.customer_totals AS
  SELECT c.id, c.name, count(o.id) AS orders, coalesce(sum(o.total), 0) AS total
    FROM sales.customers c LEFT JOIN sales.orders o ON o.customer_id = c.id
   GROUP BY c.id, c.name;

INSERT INTO sales.customers (name, email, born, vip, tags, profile, ip, external_id)
SELECT 'Customer ' || g || CASE WHEN g % 7 = 0 THEN E' with\ttab and\nnewline and \\ backslash' ELSE '' END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE 'c' || g || '@example.com' END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE date '1950-01-01' + g END,
       g % 3 = 0,
       CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY['t' || g % 10, 'ünïcødé ' || g, NULL] END,
       jsonb_build_object('n', g, 'nested', jsonb_build_object('even', g % 2 = 0, 'list', jsonb_build_array(g, g * 1.5, 'x'))),
       ('10.' || g % 256 || '.' || g / 256 % 256 || '.1')::inet,
       md5(g::text)::uuid
  FROM generate_series(1, 3000) g;

INSERT INTO sales.orders (customer_id, status, total, weight, ratio, wait, placed_at, note, blob)
SELECT 1 + g % 3000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled']::sales.status[])[1 + g % 4],
       (g % 1000) * 3.33,
       CASE WHEN g % 9 = 0 THEN NULL ELSE g / 7.0 END,
       (g % 100) / 3.0,
       make_interval(days => g % 30, secs => g % 3600 + 0.25),
       timestamp '2020-02-29 12:00:00' + g * interval '17 minutes',
       CASE WHEN g % 13 = 0 THEN '' WHEN g % 17 = 0 THEN NULL ELSE repeat('note ' || g || ' ', 1 + g % 5) END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END
  FROM generate_series(1, 20000) g;

INSERT INTO public.events
SELECT timestamptz '2024-06-01 00:00:00+02' + g * interval '1 second', 'kind-' || g % 5,
       json_build_object('g', g, 'pi', 3.14159265358979), ARRAY[g, g + 1, g + 2]
  FROM generate_series(1, 5000) g;

SELECT nextval('sales.invoice_no') FROM generate_series(1, 5);

-- What the restore's catalog check compares across versions: an ICU collation (its locale is in
-- collcollate before 15), an unlogged table's identity sequence (logged before 15, unlogged with
-- its table from 15), a trigger clone's own state on a partition.
CREATE COLLATION sales.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE sales.tags (name text COLLATE sales.ci PRIMARY KEY);
INSERT INTO sales.tags VALUES ('Red'), ('blue');
CREATE UNLOGGED TABLE sales.scratch (id int GENERATED ALWAYS AS IDENTITY, v text);
INSERT INTO sales.scratch (v) VALUES ('x');
CREATE TABLE sales.parted (id int, region int) PARTITION BY LIST (region);
CREATE TABLE sales.parted_1 PARTITION OF sales.parted FOR VALUES IN (1);
CREATE TABLE sales.parted_2 PARTITION OF sales.parted FOR VALUES IN (2);
CREATE FUNCTION sales.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER parted_noop BEFORE INSERT ON sales.parted FOR EACH ROW EXECUTE FUNCTION sales.noop();
ALTER TABLE sales.parted_2 DISABLE TRIGGER parted_noop;
INSERT INTO sales.parted VALUES (1, 1), (2, 2);
`;

beforeAll(async () => {
  [pg13, pg15, pg18, scratch] = await Promise.all([
    startPostgres({ major: 13 }),
    startPostgres({ major: 15 }),
    startPostgres({ major: 18 }),
    mkdtemp(join(tmpdir(), 'tidemark-cross-')),
  ]);
  await Promise.all(
    [pg13, pg15].map(async (server) => {
      await server.createDatabase('shop');
      await server.sql(SCHEMA, 'shop');
    }),
  );
});

afterAll(async () => {
  await Promise.all([pg13?.stop(), pg15?.stop(), pg18?.stop()]);
  await rm(scratch, { recursive: true, force: true });
});

/** Facts about a database's schema that must survive the trip, in a version-neutral form. */
async function schemaFacts(url: string) {
  return withClient(url, async (c) => {
    const q = async (sql: string) => (await c.query(sql)).rows;
    return {
      indexes: await q(`SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index i
                          JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
                         WHERE n.nspname IN ('public', 'sales') ORDER BY 1`),
      constraints:
        await q(`SELECT conrelid::regclass::text AS rel, conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint
                             WHERE connamespace IN ('public'::regnamespace, 'sales'::regnamespace)
                               AND contype <> 'n' -- PostgreSQL 18 lists NOT NULL here too; is_nullable covers it
                             ORDER BY 1, 2`),
      views: await q(`SELECT schemaname, viewname FROM pg_views WHERE schemaname IN ('public', 'sales') ORDER BY 1, 2`),
      enum: await q(`SELECT enumlabel FROM pg_enum WHERE enumtypid = 'sales.status'::regtype ORDER BY enumsortorder`),
      columns:
        await q(`SELECT table_schema, table_name, column_name, data_type, udt_name, is_nullable, column_default, is_identity
                          FROM information_schema.columns WHERE table_schema IN ('public', 'sales') ORDER BY 1, 2, ordinal_position`),
    };
  });
}

async function sequenceStates(url: string) {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences WHERE schemaname IN ('public', 'sales') ORDER BY 1`,
    );
    const states: Record<string, unknown> = {};
    for (const { name } of rows)
      states[name] = (await c.query(`SELECT last_value::text, is_called FROM ${name}`)).rows[0];
    return states;
  });
}

/** Backs up `shop` of `from` with the CLI, restores it into `target` of `to`, and compares the two. */
async function roundTrip(from: PostgresServer, to: PostgresServer, target: string): Promise<Record<string, number>> {
  const repo = join(scratch, `repo-${from.major}`);
  // Small chunks and ranges: several chunks per table, and on 14+ several export tasks.
  const backup = await runCli([
    'backup',
    '--source',
    from.url('shop'),
    '--repo',
    repo,
    '--json',
    '--chunk-bytes',
    '65536',
    '--range-bytes',
    '262144',
  ]);
  expect(backup.code, describeResult(backup)).toBe(0);
  expect(backup.json.serverVersion).toMatch(new RegExp(`^${from.major}\\.`));
  expect(backup.json.tables).toBe(7);
  expect(backup.json.warnings).toEqual([]);

  const restore = await runCli(['restore', backup.json.backupId, '--repo', repo, '--target', to.url(target), '--json']);
  expect(restore.code, describeResult(restore)).toBe(0);
  expect(restore.json).toMatchObject({
    ok: true,
    backupId: backup.json.backupId,
    tables: 7,
    rows: 28005,
    verified: true,
  });
  expect(restore.json.warnings).toEqual([]);
  const [{ v }] = (await to.sql(`SELECT current_setting('server_version_num')::int AS v`, target)).rows;
  expect(Math.floor(v / 10000)).toBe(to.major);

  // Rows: every table, as multisets of their text form.
  const { tables, differences } = await compareDatabases(from.url('shop'), to.url(target));
  expect(tables).toEqual([
    'public.events',
    'sales.customers',
    'sales.orders',
    'sales.parted_1',
    'sales.parted_2',
    'sales.scratch',
    'sales.tags',
  ]);
  expect(differences).toEqual([]);

  // Sequences: the standalone one, the serial's and the identities'.
  const before = await sequenceStates(from.url('shop'));
  expect(Object.keys(before)).toHaveLength(4);
  expect(await sequenceStates(to.url(target))).toEqual(before);

  // Schema: indexes, constraints (FK, unique, check, domain), views, enum, columns.
  const factsFrom = await schemaFacts(from.url('shop'));
  const factsTo = await schemaFacts(to.url(target));
  expect(factsFrom.constraints.some((c: any) => c.contype === 'f')).toBe(true);
  expect(factsTo).toEqual(factsFrom);
  // The view works and agrees; the FK is enforced; the next ids continue where the source left off.
  const viewQuery = `SELECT id, name, orders, total::text FROM sales.customer_totals ORDER BY id`;
  expect((await to.sql(viewQuery, target)).rows).toEqual((await from.sql(viewQuery, 'shop')).rows);
  expect(
    await to
      .sql(`INSERT INTO sales.customers (name) VALUES ('new') RETURNING id::text`, target)
      .then((r) => r.rows[0].id),
  ).toBe('3001');
  expect(await to.sql(`SELECT nextval('sales.invoice_no')::text AS n`, target).then((r) => r.rows[0].n)).toBe(
    await from.sql(`SELECT nextval('sales.invoice_no')::text AS n`, 'shop').then((r) => r.rows[0].n),
  );
  await expect(to.sql(`INSERT INTO sales.orders (customer_id) VALUES (999999)`, target)).rejects.toThrow(/foreign key/);

  // The comparison can see a difference (a guard against a vacuous pass).
  await to.sql(`UPDATE sales.orders SET note = 'changed' WHERE id = 1`, target);
  const changed = await compareTable(from.url('shop'), to.url(target), 'sales.orders');
  expect([changed.missing.length, changed.extra.length]).toEqual([1, 1]);

  return exportTasksPerTable(join(repo, 'runs', backup.json.backupId));
}

/** How many export tasks the plan of a run gave each table (sealed documents: header line, body). */
async function exportTasksPerTable(run: string): Promise<Record<string, number>> {
  const body = async (file: string) => {
    const text = await readFile(join(run, file), 'utf8');
    return JSON.parse(text.slice(text.indexOf('\n') + 1));
  };
  const header = await body('plan.json');
  const counts: Record<string, number> = {};
  for (const file of await readdir(join(run, 'tasks'))) {
    for (const task of await body(join('tasks', file))) {
      const table = header.schema.tables[task.table];
      const name = `${table.schema}.${table.name}`;
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

describe('PostgreSQL 15 → 18', () => {
  it('restores every row, sequence, index, constraint and view; keyless and keyed tables exported in several ranges', async () => {
    const tasks = await roundTrip(pg15, pg18, 'shop');
    // 256 KB ranges: the keyed tables and the keyless one (public.events) each in several.
    expect(tasks['sales.orders']).toBeGreaterThan(1);
    expect(tasks['public.events']).toBeGreaterThan(1);
  });
});

describe('PostgreSQL 15 → 13, an older major', () => {
  it('is refused before anything is created, naming both versions', async () => {
    const repo = join(scratch, 'repo-15'); // the backup of the 15 → 18 test
    const result = await runCli(['restore', 'latest', '--repo', repo, '--target', pg13.url('shop_from_15'), '--json']);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.json.error.message).toMatch(
      /is of PostgreSQL 15\.\d+; target 127\.0\.0\.1:\d+\/shop_from_15 runs 13\.\d+, an older major\. Tidemark restores into PostgreSQL 15 or newer/,
    );
    expect(
      (await pg13.sql(`SELECT count(*)::int AS n FROM pg_database WHERE datname = 'shop_from_15'`)).rows[0].n,
    ).toBe(0);
  });
});

describe('PostgreSQL 13 → 15', () => {
  it('backs up the oldest supported major (one export task per table: no TID range scans) and restores it into 15', async () => {
    const tasks = await roundTrip(pg13, pg15, 'shop_from_13');
    expect(tasks).toEqual({
      'public.events': 1,
      'sales.customers': 1,
      'sales.orders': 1,
      'sales.parted_1': 1,
      'sales.parted_2': 1,
      'sales.scratch': 1,
      'sales.tags': 1,
    });
  });
});
