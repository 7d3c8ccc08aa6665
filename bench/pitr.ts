// PITR bench (`npm run bench:pitr`): archive and replay rates of a mixed workload (bank transfers
// in transactions of 20, a bulk insert, a bulk delete, a wide update), restore-to-point time
// against the full restore of the same base backup, and the RPO of `--follow` under load (from a
// commit to its sealed segment; BENCH_PITR_SEGMENT_SECONDS, default 5, for BENCH_PITR_FOLLOW_SECONDS, 30). Sizes: BENCH_PITR_ACCOUNTS (100000),
// BENCH_PITR_TRANSFERS (40000). Prints one JSON object; the figures also go to stderr.
import pg from 'pg';
import { startPostgres } from '../test/support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../test/support/pipeline.ts';
import { archivedSegments, openPitrSource } from '../test/support/pitr-source.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { followChanges } from '#core/pitr/follow.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { cpuDelta, cpuSnapshot } from './measure.ts';

const ACCOUNTS = Number(process.env.BENCH_PITR_ACCOUNTS ?? 100_000);
const TRANSFERS = Number(process.env.BENCH_PITR_TRANSFERS ?? 40_000);
const FOLLOW_SEGMENT_SECONDS = Number(process.env.BENCH_PITR_SEGMENT_SECONDS ?? 5);
const FOLLOW_LOAD_SECONDS = Number(process.env.BENCH_PITR_FOLLOW_SECONDS ?? 30);
const log = (line: string) => process.stderr.write(`[bench pitr] ${line}\n`);
const seconds = (from: number) => (performance.now() - from) / 1000;

const server = await startPostgres({ major: 15 });
try {
  const url = await server.createDatabase('bench_pitr');
  await server.sql(
    `CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, note text);
     CREATE TABLE ledger (id bigserial PRIMARY KEY, from_id int NOT NULL, to_id int NOT NULL, amount int NOT NULL, at timestamptz DEFAULT now());
     INSERT INTO accounts SELECT g, 1000, 'account ' || g FROM generate_series(1, ${ACCOUNTS}) g;
     CREATE PROCEDURE transfers(n int, per_txn int) LANGUAGE plpgsql AS $$
     DECLARE a int; b int; amt int;
     BEGIN
       FOR i IN 1..n LOOP
         a := 1 + floor(random() * ${ACCOUNTS}); b := 1 + floor(random() * ${ACCOUNTS}); amt := 1 + floor(random() * 100);
         UPDATE accounts SET balance = balance - amt WHERE id = a;
         UPDATE accounts SET balance = balance + amt WHERE id = b;
         INSERT INTO ledger (from_id, to_id, amount) VALUES (a, b, amt);
         IF i % per_txn = 0 THEN COMMIT; END IF;
       END LOOP;
     END $$`,
    'bench_pitr',
  );
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  await createCollection(src.ctx, {
    name: 'bench',
    source: withoutPassword(url),
    sourceDescription: describeUrl(url),
    retention: {},
  });
  await enablePitr(src.session, src.stream, src.ctx.storage, 'bench');
  await runBackup(repo, url, { collection: 'bench', workers: 2 });

  log(`workload: ${TRANSFERS} transfers (20 per transaction), bulk insert, bulk delete, wide update`);
  let started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CALL transfers(${TRANSFERS}, 20)`);
  await client.query(
    `INSERT INTO ledger (from_id, to_id, amount) SELECT g, g, 0 FROM generate_series(1, ${TRANSFERS / 2}) g`,
  );
  await client.query('DELETE FROM ledger WHERE id % 4 = 0');
  await client.query(`UPDATE accounts SET note = 'audited' WHERE id <= ${ACCOUNTS / 5}`);
  await client.end();
  const workloadSeconds = seconds(started);

  started = performance.now();
  let cpu = await cpuSnapshot();
  const archived = await archiveChanges(src.stream, src.ctx.storage, 'bench');
  const archiveSeconds = seconds(started);
  const archiveCpu = cpuDelta(cpu, await cpuSnapshot());
  log(
    `archive: ${archived.changes} changes, ${archived.transactions} transactions, ${archived.segments} segments in ${archiveSeconds.toFixed(1)} s`,
  );

  const into = server.url('bench_pitr_restored');
  src.ctx.credentials.register('restored', into);
  let baseSeconds = 0;
  started = performance.now();
  const restored = await restoreToPoint(
    {
      collection: 'bench',
      target: parseTarget('latest'),
      into: { credentials: 'restored' },
      restoreBackup: async (id) => {
        const base = performance.now();
        await runRestore(repo, id, into);
        baseSeconds = seconds(base);
        cpu = await cpuSnapshot();
      },
    },
    src.ctx,
  );
  const pointSeconds = seconds(started);
  const replayCpu = cpuDelta(cpu, await cpuSnapshot());
  const replaySeconds = pointSeconds - baseSeconds;

  // RPO under load: `--follow` (in-process) while transfers run at full speed; a marker row
  // commits every 250 ms, and each one's delay from commit to sealed segment is measured.
  log(`follow: --segment-seconds ${FOLLOW_SEGMENT_SECONDS} while transfers run for ${FOLLOW_LOAD_SECONDS} s`);
  await server.sql('CREATE TABLE markers (id int PRIMARY KEY)', 'bench_pitr');
  await archiveChanges(src.stream, src.ctx.storage, 'bench');
  const stop = new AbortController();
  const following = followChanges(src.stream, src.ctx.storage, 'bench', {
    signal: stop.signal,
    segmentSeconds: FOLLOW_SEGMENT_SECONDS,
  });
  const load = new pg.Client({ connectionString: url });
  const marks = new pg.Client({ connectionString: url });
  await Promise.all([load.connect(), marks.connect()]);
  started = performance.now();
  let writing = true;
  const markers = (async () => {
    for (let id = 1; writing; id++) {
      await marks.query('INSERT INTO markers VALUES ($1)', [id]);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  while (seconds(started) < FOLLOW_LOAD_SECONDS) await load.query('CALL transfers(2000, 20)');
  writing = false;
  await markers;
  const loadSeconds = seconds(started);
  stop.abort();
  const followed = await following;
  await Promise.all([load.end(), marks.end()]);
  const rpo = await markerDelays(src.ctx.storage);
  await src.close();

  const result = {
    accounts: ACCOUNTS,
    transfers: TRANSFERS,
    workload: { seconds: round(workloadSeconds), changesPerSecond: Math.round(archived.changes / workloadSeconds) },
    archive: {
      changes: archived.changes,
      transactions: archived.transactions,
      segments: archived.segments,
      seconds: round(archiveSeconds),
      changesPerSecond: Math.round(archived.changes / archiveSeconds),
      ...perCpu(archived.changes, archiveCpu),
    },
    replay: {
      changes: restored.replay.changes,
      transactions: restored.replay.transactions,
      countedTables: restored.replay.countedTables,
      seconds: round(replaySeconds),
      changesPerSecond: Math.round(restored.replay.changes / replaySeconds),
      ...perCpu(restored.replay.changes, replayCpu),
    },
    follow: {
      segmentSeconds: FOLLOW_SEGMENT_SECONDS,
      loadSeconds: round(loadSeconds),
      changes: followed.changes,
      changesPerSecond: Math.round(followed.changes / loadSeconds),
      drains: followed.drains,
      segments: followed.segments,
      markers: rpo.length,
      commitToSealedSeconds: { median: round(rpo[Math.floor(rpo.length / 2)] ?? 0), max: round(rpo.at(-1) ?? 0) },
    },
    restoreToPointSeconds: round(pointSeconds),
    fullRestoreOfBaseSeconds: round(baseSeconds),
  };
  log(
    `follow: ${result.follow.changes} changes while the load ran ${result.follow.loadSeconds} s; commit to sealed segment: median ${result.follow.commitToSealedSeconds.median} s, max ${result.follow.commitToSealedSeconds.max} s (${result.follow.markers} markers)`,
  );
  log(
    `replay: ${result.replay.changes} changes in ${result.replay.seconds} s = ${result.replay.changesPerSecond} changes/s ` +
      `(${result.replay.changesPerCpuSecond} per CPU second; other processes used ${Math.round(result.replay.otherCpuShare * 100)}% of the CPUs); ` +
      `restore to the point ${result.restoreToPointSeconds} s against ${result.fullRestoreOfBaseSeconds} s for the base backup alone`,
  );
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.stop();
}

/** For each marker row: seconds from its transaction's commit to the sealing of its segment, ascending. */
async function markerDelays(storage: Parameters<typeof archivedSegments>[0]): Promise<number[]> {
  const delays: number[] = [];
  for (const { segment, records } of await archivedSegments(storage, 'bench')) {
    let marker = false;
    for (const r of records) {
      if (r.k === 'I' && r.rel === 'public.markers') marker = true;
      if (r.k === 'C') {
        if (marker) delays.push((Date.parse(segment.sealedAt!) - Date.parse(r.time)) / 1000);
        marker = false;
      }
    }
  }
  return delays.sort((a, b) => a - b);
}

/**
 * CPU of this process and its children (the server) during a step, and the share of all CPUs
 * other processes used meanwhile: on a shared machine the wall-clock rate depends on them.
 */
function perCpu(changes: number, cpu: { treeCpuSeconds: number; otherCpuShare: number }) {
  return {
    cpuSeconds: round(cpu.treeCpuSeconds),
    changesPerCpuSecond: Math.round(changes / cpu.treeCpuSeconds),
    otherCpuShare: round(cpu.otherCpuShare),
  };
}

function round(n: number): number {
  return Number(n.toFixed(2));
}
