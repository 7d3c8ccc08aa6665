// Bounded memory (DESIGN.md invariant 6): an export holds at most CHUNKS_IN_FLIGHT chunks,
// whatever the table's size, and when storing falls behind it stops reading, so the server waits
// (wait event ClientWrite) instead of the client buffering the table. Memory is then chunk size ×
// (chunks in flight + the one being filled) × workers. The one fake: a 40 ms delay in front of the real filesystem store,
// because a local disk never makes the reader wait.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tempRepository } from '../support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';
import { CHUNKS_IN_FLIGHT, exportCopy } from '#core/backup/copy-export.ts';
import type { RepositoryStorage } from '#core/ports/storage.ts';
import type { CopiedRows, SqlSession } from '#core/ports/database.ts';

let server: PostgresServer;
let repo: string;

beforeAll(async () => {
  server = await startPostgres({ major: 15 });
  await server.createDatabase('big');
  // About 20 MB of COPY text: ~80 chunks of 256 KB.
  await server.sql(
    `CREATE TABLE big (id int, pad text); INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 200000) g;`,
    'big',
  );
  repo = await tempRepository();
});

afterAll(async () => {
  await server?.stop();
  if (repo) await rm(dirname(repo), { recursive: true, force: true });
});

/** The real store, each write 40 ms late. */
function slowStore(storage: RepositoryStorage): RepositoryStorage {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === 'putIfAbsent') {
        return async (...args: Parameters<RepositoryStorage['putIfAbsent']>) => {
          await new Promise((r) => setTimeout(r, 40));
          return target.putIfAbsent(...args);
        };
      }
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('bounded memory', () => {
  it(`an export holds at most ${CHUNKS_IN_FLIGHT} chunks at once, and a slow store makes the server wait instead of the client buffering`, async () => {
    const local = await openLocalContext(repo, { create: true });
    local.credentials.register('source', server.url('big'));
    const ctx = { ...local, storage: slowStore(local.storage) };
    const session = await ctx.databases.connect(
      { credentials: 'source' },
      { applicationName: 'tidemark bounded export' },
    );
    let held = 0;
    let maxHeld = 0;
    let yielded = 0;
    // Counts the chunks handed out and not yet released (released = compressed, hashed, stored).
    const counting: SqlSession = Object.assign(Object.create(session), {
      async *copyOutChunks(sql: string, chunkBytes: number): AsyncIterable<CopiedRows> {
        for await (const copied of session.copyOutChunks(sql, chunkBytes)) {
          yielded++;
          maxHeld = Math.max(maxHeld, ++held);
          let released = false;
          yield {
            ...copied,
            release: () => {
              if (!released) {
                released = true;
                held--;
              }
              copied.release?.();
            },
          };
        }
      },
    });
    const waits: string[] = [];
    let exporting = true;
    const watcher = (async () => {
      while (exporting) {
        const { rows } = await server.sql(
          `SELECT coalesce(wait_event, 'running') AS w FROM pg_stat_activity WHERE application_name = 'tidemark bounded export'`,
        );
        if (rows[0]) waits.push(rows[0].w);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    try {
      const result = await exportCopy(
        counting,
        'COPY public.big (id, pad) TO STDOUT',
        'public.big',
        'text',
        256 * 1024,
        ctx,
      );
      expect(result.rows).toBe(200000);
      expect(result.chunks.length).toBeGreaterThanOrEqual(60);
    } finally {
      exporting = false;
      await watcher;
      await session.close();
    }
    expect(yielded).toBeGreaterThanOrEqual(60);
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld, `chunks held at once while ${yielded} went through`).toBeLessThanOrEqual(CHUNKS_IN_FLIGHT);
    const blocked = waits.filter((w) => w === 'ClientWrite').length;
    // Had the client read ahead, the server would have sent everything in a fraction of a second
    // and then waited for the next command (ClientRead). Measured: ClientWrite in ~75 % of samples.
    expect(blocked, `wait events sampled: ${waits.join(' ')}`).toBeGreaterThan(waits.length / 4);
  });
});
