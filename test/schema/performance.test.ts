// Capture cost is per object kind, not per object: 2,000 tables take a few catalog queries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { capture } from './helpers.ts';

const TABLES = 2000;

describe('capture of a large schema', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('large');
    await server.sql(
      `
      DO $$ BEGIN FOR i IN 1..${TABLES} LOOP
        EXECUTE format('CREATE TABLE public.t%s (id serial PRIMARY KEY, a text NOT NULL DEFAULT %L,
          b integer CHECK (b > 0), c timestamptz, d jsonb)', i, 'x');
        EXECUTE format('CREATE INDEX ON public.t%s (a, b)', i);
        EXECUTE format('COMMENT ON TABLE public.t%s IS %L', i, 'table ' || i);
      END LOOP; END $$;`,
      'large',
    );
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
  });

  it(`captures ${TABLES} tables in a few seconds`, async () => {
    const started = Date.now();
    const snapshot = await capture(server.url('large'));
    const elapsed = Date.now() - started;
    expect(snapshot.tables).toHaveLength(TABLES);
    expect(snapshot.sequences).toHaveLength(TABLES);
    expect(snapshot.postData.flat().filter((s) => s.kind === 'index')).toHaveLength(TABLES);
    // Generous for a shared CI machine; typically 1.5–3 s.
    expect(elapsed).toBeLessThan(10_000);
  }, 60_000);
});
