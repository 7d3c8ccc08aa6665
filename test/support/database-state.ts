// Oracles for "the restored database equals the source": pg_dump --schema-only text, every
// table's rows as a multiset, and every sequence's state.
import { it, expect } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PostgresServer } from './postgres-server.ts';
import { SUPERUSER, SUPERUSER_PASSWORD } from './postgres-server.ts';
import { readCatalogState, type CatalogState } from '#core/schema/catalog-state.ts';

const run = promisify(execFile);

export function pgDumpPath(): string {
  const debian = '/usr/lib/postgresql/15/bin/pg_dump';
  return existsSync(debian) ? debian : 'pg_dump';
}

/**
 * `pg_dump --schema-only` (or the whole dump, `withData`), minus the lines that differ on every
 * run or server: the \restrict keys and the "Dumped from/by" header.
 */
export async function schemaDump(
  server: PostgresServer,
  database: string,
  options: { withData?: boolean } = {},
): Promise<string> {
  const { stdout } = await run(
    pgDumpPath(),
    [
      ...(options.withData ? [] : ['--schema-only']),
      '--host',
      '127.0.0.1',
      '--port',
      String(server.port),
      '--username',
      SUPERUSER,
      '--dbname',
      database,
    ],
    { env: { ...process.env, PGPASSWORD: SUPERUSER_PASSWORD }, maxBuffer: 256 * 1024 * 1024 },
  );
  return stdout
    .split('\n')
    .filter((line) => !/^\\(un)?restrict /.test(line) && !/^-- Dumped (from|by) /.test(line))
    .join('\n');
}

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/fidelity/', import.meta.url));

/** Runs the fidelity fixture files (every object kind, awkward values) in name order. */
export async function loadFidelityFixture(server: PostgresServer, database: string): Promise<void> {
  for (const file of (await readdir(FIXTURE_DIR)).filter((f) => f.endsWith('.sql')).sort()) {
    await server.sql(await readFile(join(FIXTURE_DIR, file), 'utf8'), database);
  }
}

/** Per table (every ordinary table and leaf partition): row count and a digest of its sorted rows. */
export async function tableContents(server: PostgresServer, database: string): Promise<Record<string, string>> {
  const tables = (
    await server.sql(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1`,
      database,
    )
  ).rows.map((r) => r.name as string);
  const result: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await server.sql(
      `SELECT count(*)::text || ':' || coalesce(md5(string_agg(md5(t::text), ',' ORDER BY md5(t::text))), '-') AS digest FROM ONLY ${table} t`,
      database,
    );
    result[table] = rows[0].digest;
  }
  return result;
}

/**
 * Per materialized view: 'unpopulated' when it was created or left WITH NO DATA, else its row
 * count and a digest of its sorted rows. The schema dump shows neither.
 */
export async function materializedViewContents(
  server: PostgresServer,
  database: string,
): Promise<Record<string, string>> {
  const views = (
    await server.sql(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, c.relispopulated AS populated
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm' ORDER BY 1`,
      database,
    )
  ).rows as { name: string; populated: boolean }[];
  const result: Record<string, string> = {};
  for (const view of views) {
    if (!view.populated) {
      result[view.name] = 'unpopulated';
      continue;
    }
    const { rows } = await server.sql(
      `SELECT count(*)::text || ':' || coalesce(md5(string_agg(md5(t::text), ',' ORDER BY md5(t::text))), '-') AS digest FROM ${view.name} t`,
      database,
    );
    result[view.name] = rows[0].digest;
  }
  return result;
}

export async function sequenceStates(server: PostgresServer, database: string): Promise<Record<string, string>> {
  const seqs = (
    await server.sql(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'S' ORDER BY 1`,
      database,
    )
  ).rows.map((r) => r.name as string);
  const result: Record<string, string> = {};
  for (const seq of seqs) {
    const { rows } = await server.sql(
      `SELECT last_value::text || '/' || is_called::text AS state FROM ${seq}`,
      database,
    );
    result[seq] = rows[0].state;
  }
  return result;
}

/** What the restore's catalog check compares (index validity, constraints, triggers, access methods, persistence). */
export async function catalogState(server: PostgresServer, database: string): Promise<CatalogState> {
  return readCatalogState(async (sql) => (await server.sql(sql, database)).rows, { source: false });
}

/**
 * The three oracles as tests: schema dump, rows of every table, sequence states. `server` is a
 * getter because the suite's server starts in beforeAll, after the tests are declared.
 */
export function itRestoresIdentically(server: () => PostgresServer, source: string, restored: string): void {
  it('pg_dump --schema-only of source and restored database are identical', async () => {
    const [before, after] = await Promise.all([schemaDump(server(), source), schemaDump(server(), restored)]);
    expect(before.length).toBeGreaterThan(1000);
    expect(after).toEqual(before);
  });

  it('every table holds the same rows, as multisets', async () => {
    const before = await tableContents(server(), source);
    expect(Object.keys(before).length).toBeGreaterThan(5);
    expect(await tableContents(server(), restored)).toEqual(before);
  });

  it('materialized views hold the same rows, and one created WITH NO DATA stays unpopulated', async () => {
    const before = await materializedViewContents(server(), source);
    expect(Object.values(before)).toContain('unpopulated');
    expect(Object.values(before).some((v) => /^[1-9]\d*:/.test(v))).toBe(true);
    expect(await materializedViewContents(server(), restored)).toEqual(before);
  });

  it('the catalog state is identical: every index valid as at the source, constraints validated and inherited alike, trigger enable states, access methods, persistence', async () => {
    const before = await catalogState(server(), source);
    expect(before.triggers.some((t) => t.enabled !== 'O')).toBe(true);
    expect(await catalogState(server(), restored)).toEqual(before);
  });

  it('sequences hold the same state', async () => {
    const before = await sequenceStates(server(), source);
    expect(Object.keys(before).length).toBeGreaterThan(0);
    expect(await sequenceStates(server(), restored)).toEqual(before);
  });
}
