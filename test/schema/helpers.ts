// Shared steps of the schema tests: load the fixture, capture a database, apply a snapshot to
// another one, and dump a schema with pg_dump (the oracle).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { applyStatements, applyWaves, targetRoles } from '#core/schema/apply.ts';
import { captureSchema } from '#core/schema/capture.ts';
import { partitionParents } from '#core/schema/post-data-units.ts';
import type { CatalogQuery, SchemaSnapshot } from '#core/schema/model.ts';
import type { PostgresServer } from '#test/support/postgres-server.ts';
import { schemaDump } from '#test/support/database-state.ts';

const FIXTURE_DIR = new URL('../fixtures/fidelity/', import.meta.url).pathname;

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export const queryOf =
  (client: pg.Client): CatalogQuery =>
  async (sql, params) =>
    (await client.query(sql, params)).rows;

/** Runs the fidelity fixture files in name order. */
export async function loadFixture(url: string): Promise<void> {
  const files = (await readdir(FIXTURE_DIR)).filter((f) => f.endsWith('.sql')).sort();
  await withClient(url, async (client) => {
    for (const file of files) await client.query(await readFile(join(FIXTURE_DIR, file), 'utf8'));
  });
}

/** Captures like the backup does: inside a REPEATABLE READ transaction. */
export async function capture(url: string): Promise<SchemaSnapshot> {
  return withClient(url, async (client) => {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      return await captureSchema(queryOf(client));
    } finally {
      await client.query('COMMIT');
    }
  });
}

/**
 * Applies pre-data, runs `load` (the data load, if any), then the post-data waves on
 * `concurrency` sessions. Returns the warnings.
 */
export async function applySnapshot(
  url: string,
  snapshot: SchemaSnapshot,
  options: { concurrency?: number; load?: () => Promise<void> } = {},
): Promise<string[]> {
  const concurrency = options.concurrency ?? 4;
  const clients = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  try {
    const roles = await targetRoles(queryOf(clients[0]), [...snapshot.preData, ...snapshot.postData.flat()]);
    const warnings = await applyStatements(queryOf(clients[0]), snapshot.preData, roles);
    await options.load?.();
    const idle = [...clients];
    warnings.push(
      ...(await applyWaves(
        snapshot.postData,
        async (statements) => {
          const client = idle.pop()!;
          try {
            return await applyStatements(queryOf(client), statements, roles);
          } finally {
            idle.push(client);
          }
        },
        concurrency,
        partitionParents(snapshot.preData),
      )),
    );
    return warnings;
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** pg_dump (--schema-only unless `withData`), minus the lines that differ between any two runs. */
export async function dumpSchema(server: PostgresServer, database: string, withData = false): Promise<string> {
  return schemaDump(server, database, { withData });
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Copies the snapshot's tables from source to target with COPY, as the export/load would. */
export async function copyTables(sourceUrl: string, targetUrl: string, snapshot: SchemaSnapshot): Promise<void> {
  await withClient(sourceUrl, (source) =>
    withClient(targetUrl, async (target) => {
      for (const table of snapshot.tables) {
        const name = `${ident(table.schema)}.${ident(table.name)}`;
        // A table without columns takes no column list.
        const columns = table.columns.length ? ` (${table.columns.map(ident).join(', ')})` : '';
        await pipeline(
          source.query(copyTo(`COPY ${name}${columns} TO STDOUT`)),
          target.query(copyFrom(`COPY ${name}${columns} FROM STDIN`)),
        );
      }
    }),
  );
}

/** What the restorer does after post-data: sequence values, then materialized views. */
export async function finishData(url: string, snapshot: SchemaSnapshot): Promise<void> {
  await withClient(url, async (client) => {
    for (const s of snapshot.sequences) {
      await client.query('SELECT pg_catalog.setval($1::regclass, $2::bigint, $3)', [
        `${ident(s.schema)}.${ident(s.name)}`,
        s.lastValue,
        s.isCalled,
      ]);
    }
    for (const mv of snapshot.materializedViews) {
      await client.query(`REFRESH MATERIALIZED VIEW ${ident(mv.schema)}.${ident(mv.name)}`);
    }
  });
}
