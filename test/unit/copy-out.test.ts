// The COPY TO parser (src/adapters/postgres/copy-out.ts) against a real server: every byte of
// every row, huge rows that span many socket reads, an error in mid-copy, and the connection
// handed back to pg in a usable state each time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { fastCopyTo } from '#adapters/postgres/copy-out.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';

async function drain(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

describe('fast COPY TO', () => {
  let server: PostgresServer;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.sql(`CREATE TABLE t (id int, v text, b bytea);
      INSERT INTO t SELECT i, repeat(md5(i::text), i % 50), decode(md5(i::text), 'hex') FROM generate_series(1, 20000) i;
      INSERT INTO t VALUES (0, repeat('x', 3000000), NULL), (-1, '', '\\x00ff');`);
    client = new pg.Client({ connectionString: server.url() });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  for (const format of ['', ' (FORMAT binary)']) {
    it(`returns exactly what pg-copy-streams returns${format}`, async () => {
      const sql = `COPY t TO STDOUT${format}`;
      const expected = await drain(client.query(copyTo(sql)));
      const actual = await drain(client.query(fastCopyTo(sql)));
      expect(actual.length).toBeGreaterThan(3_000_000);
      expect(actual.equals(expected)).toBe(true);
      // pg got CommandComplete and ReadyForQuery back: the session goes on.
      expect((await client.query('SELECT 42 AS n')).rows[0].n).toBe(42);
    });
  }

  it('an error in mid-copy reaches the caller and leaves the session usable', async () => {
    await expect(drain(client.query(fastCopyTo('COPY (SELECT 1 / (i - 5000) FROM generate_series(1, 10000) i) TO STDOUT'))))
      .rejects.toThrow(/division by zero/);
    expect((await client.query('SELECT 7 AS n')).rows[0].n).toBe(7);
  });

  it('an empty result is an empty stream', async () => {
    expect((await drain(client.query(fastCopyTo('COPY (SELECT 1 WHERE false) TO STDOUT')))).length).toBe(0);
    expect((await client.query('SELECT 1 AS n')).rows[0].n).toBe(1);
  });
});
