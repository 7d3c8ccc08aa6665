// The COPY TO parser (src/adapters/postgres/copy-out.ts) against a real server: the same chunks
// as the reference cut over pg-copy-streams' plain stream, huge rows that span many socket reads,
// an error in mid-copy, and the connection handed back to pg in a usable state each time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { fastCopyToChunks } from '#adapters/postgres/copy-out.ts';
import { copyOptions, cutIntoChunks, walkRows } from '#core/copy-format.ts';
import type { CopiedRows } from '#core/ports/database.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';

describe('COPY TO in whole-row chunks', () => {
  let server: PostgresServer;
  let client: pg.Client;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.sql(`CREATE TABLE t (id int, v text, b bytea);
      INSERT INTO t SELECT i, repeat(md5(i::text), i % 30), decode(md5(i::text), 'hex') FROM generate_series(1, 30000) i;
      INSERT INTO t VALUES (0, repeat('y', 500000), NULL);
      CREATE TABLE empty (a int);`);
    client = new pg.Client({ connectionString: server.url() });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  async function chunks(stream: AsyncIterable<Buffer>, slow = false): Promise<Buffer[]> {
    const out: Buffer[] = [];
    for await (const c of stream) {
      out.push(Buffer.from(c));
      // A slow consumer lets chunks queue up in the stream: they must still come out one by one.
      if (slow) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return out;
  }

  async function copiedRows(stream: AsyncIterable<CopiedRows>, slow = false): Promise<CopiedRows[]> {
    const out: CopiedRows[] = [];
    for await (const c of stream) {
      out.push({ data: Buffer.from(c.data), rowEnds: c.rowEnds });
      if (slow) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return out;
  }

  /** Row ends as walkRows finds them (text rows end past their newline). */
  function walkedEnds(data: Buffer, format: 'text' | 'binary'): number[] {
    const ends: number[] = [];
    walkRows(data, format, (_start, end) => ends.push(format === 'text' ? end + 1 : end));
    return ends;
  }

  for (const format of ['text', 'binary'] as const) {
    it(`equals cutIntoChunks over the plain stream (${format}), and the session goes on`, async () => {
      const sql = `COPY t TO STDOUT${copyOptions(format)}`;
      const reference = await chunks(cutIntoChunks(client.query(copyTo(sql)), 64 * 1024, format));
      const copied = await copiedRows(client.query(fastCopyToChunks(sql, 64 * 1024)), true);
      const fast = copied.map((c) => c.data);
      expect(reference.length).toBeGreaterThan(20);
      expect(fast.length).toBe(reference.length);
      fast.forEach((c, i) => expect(c.equals(reference[i]!), `chunk ${i}`).toBe(true));
      copied.forEach((c, i) => expect([...c.rowEnds], `row ends of chunk ${i}`).toEqual(walkedEnds(c.data, format)));
      expect((await client.query('SELECT 3 AS n')).rows[0].n).toBe(3);
    });

    it(`tiny rows in big chunks: the gaps left by message headers are closed, not grown into (${format})`, async () => {
      // 200,000 rows of a few bytes: their headers add up to more than a chunk's slack.
      const sql = `COPY (SELECT i FROM generate_series(1, 200000) i) TO STDOUT${copyOptions(format)}`;
      const reference = await chunks(cutIntoChunks(client.query(copyTo(sql)), 1024 * 1024, format));
      const copied = await copiedRows(client.query(fastCopyToChunks(sql, 1024 * 1024)));
      expect(copied.length).toBe(reference.length);
      copied.forEach((c, i) => expect(c.data.equals(reference[i]!), `chunk ${i}`).toBe(true));
      expect(copied.reduce((n, c) => n + c.rowEnds.length, 0)).toBe(200000);
      for (const c of copied) expect(c.data.buffer.byteLength).toBeLessThan(2 * 1024 * 1024);
    });

    it(`an empty table gives no chunk (${format})`, async () => {
      expect(
        await copiedRows(client.query(fastCopyToChunks(`COPY empty TO STDOUT${copyOptions(format)}`, 1024))),
      ).toEqual([]);
    });
  }

  it('an error in mid-copy reaches the caller and leaves the session usable', async () => {
    await expect(
      copiedRows(
        client.query(fastCopyToChunks('COPY (SELECT 1 / (i - 5000) FROM generate_series(1, 10000) i) TO STDOUT', 1024)),
      ),
    ).rejects.toThrow(/division by zero/);
    expect((await client.query('SELECT 7 AS n')).rows[0].n).toBe(7);
  });
});
