// Dependency order comes from pg_depend, not from OIDs or names: objects created in "reverse"
// order (CREATE OR REPLACE after the fact) must still be restorable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchemaSnapshot } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { applySnapshot, capture, dumpSchema } from './helpers.ts';

const REVERSED = `
  CREATE SCHEMA chain;
  -- Created first (lowest OIDs, names sorting first), rewired below to depend on later objects.
  CREATE VIEW chain.a_top AS SELECT 1 AS v;
  CREATE VIEW chain.b_middle AS SELECT 1 AS v;
  CREATE FUNCTION chain.c_base() RETURNS integer LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT 41; END;
  CREATE TABLE chain.d_table (id integer PRIMARY KEY, v integer);
  CREATE OR REPLACE FUNCTION chain.c_base() RETURNS integer LANGUAGE sql STABLE
    BEGIN ATOMIC SELECT count(*)::integer FROM chain.d_table; END;
  CREATE OR REPLACE VIEW chain.b_middle AS SELECT chain.c_base() AS v;
  CREATE OR REPLACE VIEW chain.a_top AS SELECT v + 1 AS v FROM chain.b_middle;
  -- A cycle: the default of f_uses calls a function that reads f_uses. Set separately, as pg_dump does.
  CREATE TABLE chain.f_uses (n integer);
  CREATE FUNCTION chain.e_next() RETURNS integer LANGUAGE sql BEGIN ATOMIC SELECT max(n) + 1 FROM chain.f_uses; END;
  ALTER TABLE chain.f_uses ALTER COLUMN n SET DEFAULT chain.e_next();
`;

describe('dependency order', () => {
  let server: PostgresServer;
  let snapshot: SchemaSnapshot;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('reversed');
    await server.sql(REVERSED, 'reversed');
    snapshot = await capture(server.url('reversed'));
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('creates a view-on-view-on-function chain after what it depends on', () => {
    const at = (object: string) => snapshot.preData.findIndex((s) => s.object === object && /^CREATE/.test(s.sql));
    const order = ['table chain.d_table', 'function chain.c_base()', 'view chain.b_middle', 'view chain.a_top'].map(at);
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  it('breaks the table → default → function → table cycle with a separate default', () => {
    const at = (kind: string, object: string) =>
      snapshot.preData.findIndex((s) => s.kind === kind && s.object === object);
    expect(at('table', 'table chain.f_uses')).toBeLessThan(at('function', 'function chain.e_next()'));
    expect(at('function', 'function chain.e_next()')).toBeLessThan(at('default', 'table chain.f_uses'));
    expect(snapshot.warnings).toEqual([]);
  });

  it('applies cleanly and dumps identically', async () => {
    await server.createDatabase('rebuilt');
    expect(await applySnapshot(server.url('rebuilt'), snapshot)).toEqual([]);
    expect(await dumpSchema(server, 'rebuilt')).toBe(await dumpSchema(server, 'reversed'));
  });
});
