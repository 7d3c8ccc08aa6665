// PITR bench (`npm run bench:pitr`): archive and replay rates of a mixed workload (bank transfers
// in transactions of 20, a bulk insert, a bulk delete, a wide update), and restore-to-point time
// against the full restore of the same base backup. Sizes: BENCH_PITR_ACCOUNTS (100000),
// BENCH_PITR_TRANSFERS (40000). Prints one JSON object; the figures also go to stderr.
import pg from 'pg';
import { startPostgres } from '../test/support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '../test/support/pipeline.ts';
import { openPitrSource } from '../test/support/pitr-source.ts';
import { createCollection } from '#core/maintenance/collections.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { restoreToPoint } from '#core/pitr/restore-to-point.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { cpuDelta, cpuSnapshot } from './measure.ts';

const ACCOUNTS = Number(process.env.BENCH_PITR_ACCOUNTS ?? 100_000);
const TRANSFERS = Number(process.env.BENCH_PITR_TRANSFERS ?? 40_000);
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
    restoreToPointSeconds: round(pointSeconds),
    fullRestoreOfBaseSeconds: round(baseSeconds),
  };
  log(
    `replay: ${result.replay.changes} changes in ${result.replay.seconds} s = ${result.replay.changesPerSecond} changes/s ` +
      `(${result.replay.changesPerCpuSecond} per CPU second; other processes used ${Math.round(result.replay.otherCpuShare * 100)}% of the CPUs); ` +
      `restore to the point ${result.restoreToPointSeconds} s against ${result.fullRestoreOfBaseSeconds} s for the base backup alone`,
  );
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.stop();
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
