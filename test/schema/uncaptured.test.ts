// The net under the capture (src/core/schema/uncaptured.ts): every catalog of user objects that
// PostgreSQL 13–18 has is captured, and a user object in a catalog Tidemark does not know (one a
// later PostgreSQL adds) is named, never dropped silently. No such catalog exists today, so the
// net is proven by leaving known catalogs out of the list it is given.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capture } from '#core/schema/context.ts';
import { captureTextSearch } from '#core/schema/text-search.ts';
import { CAPTURED_CATALOGS, guardUncaptured } from '#core/schema/uncaptured.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { capture, queryOf, withClient } from './helpers.ts';

const OBJECTS = `
  CREATE FUNCTION public.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
  CREATE EVENT TRIGGER "Odd Trigger" ON ddl_command_start EXECUTE FUNCTION public.on_ddl();
  CREATE TEXT SEARCH PARSER public.my_parser (START = prsd_start, GETTOKEN = prsd_nexttoken, END = prsd_end, LEXTYPES = prsd_lextype);
  CREATE TEXT SEARCH CONFIGURATION public.my_config (PARSER = public.my_parser);
`;

describe('objects in a catalog the capture does not know', () => {
  let server: PostgresServer;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('net');
    await server.sql(OBJECTS, 'net');
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  /** Runs the text search capture (so its objects count as captured), then the net with `known`. */
  const guarded = (known: readonly string[]) =>
    withClient(server.url('net'), async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        await client.query(`SELECT pg_catalog.set_config('search_path', '', true)`);
        const c = new Capture(queryOf(client), 150000);
        await captureTextSearch(c);
        await guardUncaptured(c, known);
        return c.warnings;
      } finally {
        await client.query('ROLLBACK');
      }
    });

  it('with every catalog known, nothing is reported and the whole capture warns of nothing', async () => {
    expect(await guarded(CAPTURED_CATALOGS)).toEqual([]);
    expect((await capture(server.url('net'))).warnings).toEqual([]);
  });

  it('names each object of an unknown catalog in the warnings', async () => {
    const warnings = await guarded(CAPTURED_CATALOGS.filter((c) => c !== 'pg_event_trigger'));
    expect(warnings).toEqual([
      'objects of a kind Tidemark does not back up yet (catalog pg_event_trigger) are not in this backup: event trigger Odd Trigger',
    ]);
  });

  it('refuses the backup, naming both, when a captured object needs an object of an unknown catalog', async () => {
    await expect(guarded(CAPTURED_CATALOGS.filter((c) => c !== 'pg_ts_parser'))).rejects.toThrow(
      /text search configuration public\.my_config needs text search parser public\.my_parser.*the backup is not taken/,
    );
  });

  it('knows every per-database catalog with objects of their own on this server', async () => {
    const { rows } = await server.sql(
      `SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'oid'
        WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' AND NOT c.relisshared ORDER BY 1`,
      'net',
    );
    expect(
      rows.map((r: { relname: string }) => r.relname).filter((c: string) => !CAPTURED_CATALOGS.includes(c)),
    ).toEqual([]);
  });
});
