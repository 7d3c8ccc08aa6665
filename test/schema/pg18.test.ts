// Capture works on the newest server. pg_dump 15 (the oracle) refuses PostgreSQL 18, so the
// check is a round trip: the schema captured from the rebuilt database equals the source's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaSnapshot } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { applySnapshot, capture, loadFixture } from './helpers.ts';

// PostgreSQL 18 additions: virtual generated columns and named NOT NULL constraints.
const PG18_EXTRAS = `
  CREATE TABLE app.pg18 (
    a integer CONSTRAINT pg18_a_required NOT NULL,
    b integer GENERATED ALWAYS AS (a * 2) VIRTUAL,
    c integer NOT NULL
  );
`;

const statements = (s: SchemaSnapshot) => [...s.preData, ...s.postData.flat()].map((x) => x.sql);

describe('schema capture on PostgreSQL 18', () => {
  let server: PostgresServer;
  let source: SchemaSnapshot;
  let rebuilt: SchemaSnapshot;
  let applyWarnings: string[];

  beforeAll(async () => {
    server = await startPostgres({ major: 18 });
    await loadFixture(await server.createDatabase('source'));
    await server.sql(PG18_EXTRAS, 'source');
    source = await capture(server.url('source'));
    applyWarnings = await applySnapshot(await server.createDatabase('target'), source);
    rebuilt = await capture(server.url('target'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('captures the 18-only features', () => {
    expect(source.serverVersionNum).toBeGreaterThanOrEqual(180000);
    const table = source.preData.find((s) => s.object === 'table app.pg18' && s.kind === 'table');
    expect(table?.sql).toContain('a integer CONSTRAINT pg18_a_required NOT NULL');
    expect(table?.sql).toContain('GENERATED ALWAYS AS ((a * 2)) VIRTUAL');
    expect(source.tables.find((t) => t.name === 'pg18')?.columns).toEqual(['a', 'c']);
    expect(source.warnings).toEqual([]);
  });

  it('rebuilds a database whose captured schema is the same', () => {
    expect(applyWarnings).toEqual([]);
    expect(statements(rebuilt)).toEqual(statements(source));
    expect(rebuilt.tables).toEqual(source.tables);
  });
});
