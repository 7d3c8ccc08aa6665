// The incremental part of `npm run bench` (issue 4): a full backup into a collection, 1% churn
// on the largest table (updates and inserts spread over it), then the next backup of the
// collection — its time and the bytes it uploaded, as fractions of the full backup's.
import type { PostgresServer } from '../test/support/postgres-server.ts';
import { withoutPassword } from '../src/adapters/postgres/connector.ts';
import { dirSize } from './measure.ts';

interface Run {
  seconds: number;
  ok: boolean;
  json?: Record<string, unknown>;
}

export interface IncrementalResult {
  table: string;
  rowsChanged: number;
  full: { seconds?: number; bytesStored?: number };
  incremental: { seconds?: number; bytesStored?: number; bytesReferenced?: number };
  repositoryGrowthBytes: number;
  repositoryBytesAfterFull: number;
}

export async function benchIncremental(
  server: PostgresServer,
  sourceDb: string,
  repo: string,
  tidemark: (name: string, args: string[]) => Promise<Run>,
): Promise<IncrementalResult> {
  const sourceUrl = server.url(sourceDb);
  // The collection stores the source without its password; --source supplies it at backup time.
  const stored = withoutPassword(sourceUrl);
  const create = await tidemark('tidemark collection create', [
    'collection',
    'create',
    'bench',
    '--source',
    stored,
    '--keep-last',
    '3',
    '--repo',
    repo,
    '--json',
  ]);
  if (!create.ok) throw new Error('tidemark collection create failed');
  const backup = (name: string) =>
    tidemark(name, [
      'backup',
      '--collection',
      'bench',
      '--source',
      sourceUrl,
      '--repo',
      repo,
      '--json',
      '--workers',
      '2',
    ]);
  await server.sql('CHECKPOINT');
  const full = await backup('tidemark backup --collection (full)');
  const afterFull = await dirSize(`${repo}/chunks`);
  const [{ n, max }] = (await server.sql('SELECT count(*)::int AS n, max(id)::bigint AS max FROM events', sourceDb))
    .rows;
  // 0.5% updated, spread over the table, and 0.5% inserted: 1% of the rows.
  const inserts = Math.round(n * 0.005);
  await server.sql(
    `UPDATE events SET payload = payload || '{"churn": 1}' WHERE id % 200 = 17;
     INSERT INTO events SELECT ${max} + g, now(), 'churn', jsonb_build_object('g', g) FROM generate_series(1, ${inserts}) g;`,
    sourceDb,
  );
  await server.sql('CHECKPOINT');
  const incremental = await backup('tidemark backup --collection (after 1% churn)');
  const afterIncremental = await dirSize(`${repo}/chunks`);
  const num = (run: Run, key: string) =>
    run.ok && typeof run.json?.[key] === 'number' ? (run.json[key] as number) : undefined;
  return {
    table: 'events',
    rowsChanged: Math.round(n / 200) + inserts,
    full: { seconds: full.ok ? full.seconds : undefined, bytesStored: num(full, 'bytesStored') },
    incremental: {
      seconds: incremental.ok ? incremental.seconds : undefined,
      bytesStored: num(incremental, 'bytesStored'),
      bytesReferenced: num(incremental, 'bytesReferenced'),
    },
    repositoryGrowthBytes: afterIncremental.bytes - afterFull.bytes,
    repositoryBytesAfterFull: afterFull.bytes,
  };
}
