// `npm run bench:growth`: how a collection's repository grows under daily incremental backups —
// the figure the cost model (docs/deploy.md, "Cost") rests on. One source with a keyed table
// (1 % of its rows updated and 0.5 % inserted per "day") and a keyless table (0.5 % appended
// per day), a full backup, then BENCH_DAYS incremental ones. Printed per backup: bytes it stored
// new (compressed), bytes it references, and what was exported whole. Bytes do not depend on
// the machine's speed, so this runs anywhere; BENCH_GROWTH_ROWS sets the keyed table's rows.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres } from '../test/support/postgres-server.ts';
import { openLocalContext } from '../src/local/local-context.ts';
import { runStateMachine } from '../src/local/state-machine-runner.ts';
import { createCollection } from '../src/core/maintenance/collections.ts';
import { readManifest } from '../src/core/repository/manifest.ts';
import { describeUrl } from '../src/adapters/postgres/connector.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work-growth');
const DAYS = Number(process.env.BENCH_DAYS ?? 12);
const ROWS = Number(process.env.BENCH_GROWTH_ROWS ?? 300_000);

interface Day {
  day: number;
  kind: 'full' | 'incremental';
  bytesStored: number;
  bytesReferenced: number;
  /** Incremental layers each table carries after this backup: 0 means exported whole (keyless, or layers piled up). */
  layers: Record<string, number>;
  seconds: number;
}

async function main(): Promise<void> {
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const server = await startPostgres({ major: 15 });
  try {
    await server.createDatabase('growth');
    await server.sql(
      `CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL, note text NOT NULL);
       INSERT INTO orders SELECT g, g % 5000, 'new', md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${ROWS}) g;
       CREATE TABLE audit_log (at timestamptz NOT NULL, actor text NOT NULL, what text NOT NULL);
       INSERT INTO audit_log SELECT now() - g * interval '1 s', 'user' || (g % 300), md5(g::text) FROM generate_series(1, ${ROWS / 3}) g;
       ANALYZE;`,
      'growth',
    );
    const ctx = await openLocalContext(join(WORK, 'repo'), { create: true });
    const url = server.url('growth');
    ctx.credentials.register('source', url);
    await createCollection(ctx, {
      name: 'daily',
      source: 'source',
      sourceDescription: describeUrl(url),
      retention: { keepLast: 30 },
    });
    const days: Day[] = [];
    let next = ROWS + 1;
    for (let day = 0; day <= DAYS; day++) {
      if (day > 0) {
        const changed = Math.floor(ROWS / 100);
        const added = Math.floor(ROWS / 200);
        await server.sql(
          `UPDATE orders SET status = 'day ${day}' WHERE id IN (SELECT 1 + ((g * 7919 + ${day} * 104729) % ${ROWS}) FROM generate_series(1, ${changed}) g);
           INSERT INTO orders SELECT g, g % 5000, 'new', md5(g::text) FROM generate_series(${next}, ${next + added - 1}) g;
           INSERT INTO audit_log SELECT now(), 'user' || (g % 300), md5(g::text) FROM generate_series(1, ${Math.floor(ROWS / 600)}) g;`,
          'growth',
        );
        next += added;
      }
      const started = performance.now();
      const out = await runStateMachine(
        'backup',
        { source: { credentials: 'source' }, collection: 'daily', options: { workers: 2 } },
        ctx,
      );
      const manifest = await readManifest(ctx.storage, out.backupId);
      const layers = Object.fromEntries(manifest.tables.map((t) => [`${t.schema}.${t.name}`, t.layers?.length ?? 0]));
      days.push({
        day,
        kind: manifest.parent ? 'incremental' : 'full',
        bytesStored: out.bytesStored,
        bytesReferenced: out.bytesReferenced,
        layers,
        seconds: (performance.now() - started) / 1000,
      });
      const d = days.at(-1)!;
      process.stderr.write(
        `day ${String(day).padStart(2)} ${d.kind.padEnd(11)} stored ${(d.bytesStored / 1e6).toFixed(2).padStart(7)} MB  references ${(d.bytesReferenced / 1e6).toFixed(1)} MB  layers: ${Object.entries(
          d.layers,
        )
          .map(([t, n]) => `${t} ${n}`)
          .join(', ')}\n`,
      );
    }
    const full = days[0]!.bytesStored;
    const incrementals = days.slice(1);
    const mean = incrementals.reduce((s, d) => s + d.bytesStored, 0) / incrementals.length;
    const summary = {
      rows: ROWS,
      incrementalBackups: DAYS,
      fullBytes: full,
      meanIncrementalBytes: Math.round(mean),
      meanIncrementalShareOfFull: mean / full,
      repositoryBytesAfter: days.reduce((s, d) => s + d.bytesStored, 0),
      // Steady state under keepLast 30 with daily backups: one full's worth plus 30 days of increments
      // (gc keeps the chunks the newest backups still reference).
      steadyStateShareOfFull: 1 + (30 * mean) / full,
      days,
    };
    process.stdout.write(`${JSON.stringify({ ...summary, days: undefined }, null, 2)}\n`);
    await writeFile(join(ROOT, 'bench', 'results', 'collection-growth.json'), `${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await server.stop();
    await rm(WORK, { recursive: true, force: true });
  }
}

await main();
