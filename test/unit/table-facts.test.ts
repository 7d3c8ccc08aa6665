// The COPY format chosen per table (src/core/backup/table-facts.ts) against a real server:
// binary only where every column's binary form is portable and it pays (converted types).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { readTableFacts } from '#core/backup/table-facts.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';

describe('COPY format per table', () => {
  let server: PostgresServer;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.sql(`
      CREATE TYPE pair AS (a int, b int);
      CREATE TABLE words (id bigint PRIMARY KEY, name text, email varchar(80), active boolean, note text);
      CREATE TABLE measures (id bigint, at timestamptz, amount numeric, ratio float8, label text);
      CREATE TABLE half (id int, label text);
      CREATE TABLE blobs (title text, body text, author text, image bytea);
      CREATE TABLE composite (p pair, q pair, r int, s int);`);
    client = new pg.Client({ connectionString: server.url() });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it('text for text-like tables, binary for converted types or bytea, text when not portable', async () => {
    const names = ['words', 'measures', 'half', 'blobs', 'composite'];
    const facts = await readTableFacts(
      async (sql, params) => (await client.query(sql, params)).rows,
      names.map((name) => ({ schema: 'public', name })),
    );
    expect(Object.fromEntries(names.map((n, i) => [n, facts[i]!.format]))).toEqual({
      words: 'text', // 1 of 5 columns converted
      measures: 'binary', // 4 of 5
      half: 'binary', // exactly half
      blobs: 'binary', // bytea
      composite: 'text', // a user composite's binary form embeds oids
    });
    expect(facts[0]!.key).toBe('id');
  });
});
