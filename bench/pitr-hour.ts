// `npm run bench:pitr-hour` (issue 13): restore to a point one hour of changes after a base
// backup, against the full restore of that base backup (Tidemark's own, and pg_restore -j2 of a
// pg_dump -Fd taken at the same point). Drives the CLI only. See bench/README.md, "PITR: an hour
// of changes". Size: `--scale <MB>` or BENCH_PITR_HOUR_MB (default 1024).
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD } from '../test/support/postgres-server.ts';
import { withoutPassword } from '../src/adapters/postgres/connector.ts';
import { generateDatabase } from './generate.ts';
import { dirSize, pgBin } from './measure.ts';
import { redact } from './harness.ts';
import {
  load1,
  makeLog,
  removeAll,
  round2,
  scaleArg,
  seconds,
  step,
  tidemarkBin,
  workDir,
  type Step,
} from './pitr-cli.ts';

const SIZE_MB = scaleArg('BENCH_PITR_HOUR_MB', 1024);
/** Rounds ("minutes") of changes, each touching 1 % of the rows of the keyed tables. */
const ROUNDS = Number(process.env.BENCH_PITR_HOUR_ROUNDS ?? 60);
/** `pitr archive` after every this many rounds. */
const ARCHIVE_EVERY = Number(process.env.BENCH_PITR_HOUR_ARCHIVE_EVERY ?? 1);
/** Rows per source transaction in the workload. */
const TXN_ROWS = Number(process.env.BENCH_PITR_HOUR_TXN_ROWS ?? 100);
const WORKERS = String(process.env.BENCH_PITR_HOUR_WORKERS ?? 2);
const log = makeLog('bench pitr-hour');
const DB = 'bench_source';
const COLLECTION = 'hour';

/** Per round: UPDATE of 1 % of each keyed table's rows (random, distinct within the round). */
const UPDATES: Record<string, string> = {
  customers: 'balance = balance + 1, is_active = NOT is_active',
  orders: `status = (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + floor(random() * 5)::int], total = round((random() * 500)::numeric, 2)`,
  events: `payload = payload || jsonb_build_object('churn', round(random()::numeric, 6))`,
  documents: 'version = version + 1, updated_at = now()',
};
/** Per round, besides: 0.1 % of events deleted and as many inserted; audit_log (no key) gets 0.1 % more rows. */
const SIDE_SHARE = 0.001;

async function main(): Promise<void> {
  const cli = tidemarkBin();
  const work = await workDir('tidemark-bench-pitr-hour-');
  const repo = join(work, 'repo');
  const dump = join(work, 'dump');
  log(
    `CLI ${cli}; work ${work}; ${SIZE_MB} MB, ${ROUNDS} rounds, archive every ${ARCHIVE_EVERY}, ${TXN_ROWS} rows per transaction; load ${load1()}`,
  );
  const server = await startPostgres({ major: 15 });
  const steps: Step[] = [];
  const run = async (name: string, args: string[]) => {
    const s = await step(name, process.execPath, [cli, ...args], work, log);
    steps.push(s);
    if (!s.ok) throw new Error(`${name} failed`);
    return s;
  };
  try {
    const url = await server.createDatabase(DB);
    log(`generating ~${SIZE_MB} MB`);
    const gen = await generateDatabase(url, SIZE_MB, log);
    const tableRows = Object.fromEntries(gen.tables.map((t) => [t.name, t.rows]));
    const baseRows = gen.tables.reduce((n, t) => n + t.rows, 0);
    log(
      `generated ${(gen.databaseBytes / 2 ** 20).toFixed(0)} MB in ${gen.seconds.toFixed(0)} s: ${JSON.stringify(tableRows)}`,
    );

    await run('collection create', [
      'collection',
      'create',
      COLLECTION,
      '--source',
      withoutPassword(url),
      '--repo',
      repo,
      '--json',
    ]);
    // audit_log has no key: REPLICA IDENTITY FULL (it only gets inserts here).
    await server.sql('CHECKPOINT');
    const enable = await run('pitr enable (with its base backup, 4 workers)', [
      'pitr',
      'enable',
      '--collection',
      COLLECTION,
      '--replica-identity-full',
      '--repo',
      repo,
      '--json',
    ]);
    const baseBackupId = enable.json?.backupId as string;
    const baseRepoBytes = (await dirSize(join(repo, 'chunks'))).bytes;
    // The same base for pg_dump: nothing has changed since the base backup's snapshot.
    const pgEnv = { PGPASSWORD: SUPERUSER_PASSWORD };
    const conn = (db: string) => ['-h', '127.0.0.1', '-p', String(server.port), '-U', SUPERUSER, '-w', '-d', db];
    const pgDump = await step(
      'pg_dump -Fd -j2 (reference)',
      pgBin('pg_dump'),
      ['-Fd', '-j2', '-f', dump, ...conn(DB)],
      work,
      log,
      pgEnv,
    );
    steps.push(pgDump);

    // The hour: ROUNDS rounds, archived every ARCHIVE_EVERY.
    await server.sql(PROCEDURES, DB);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let workloadSeconds = 0;
    let sourceChanges = 0;
    const archives: Step[] = [];
    const [{ max: maxEvent }] = (await client.query('SELECT max(id)::bigint AS max FROM events')).rows;
    let nextEvent = Number(maxEvent) + 1;
    for (let r = 1; r <= ROUNDS; r++) {
      const started = performance.now();
      for (const [table, set] of Object.entries(UPDATES)) {
        const n = Math.max(1, Math.round(tableRows[table]! * 0.01));
        await client.query(`CALL churn($1, $2, $3, $4)`, [
          table,
          `UPDATE ${table} SET ${set} WHERE id = ANY($1)`,
          n,
          TXN_ROWS,
        ]);
        sourceChanges += n;
      }
      const side = Math.max(1, Math.round(tableRows.events! * SIDE_SHARE));
      await client.query(`CALL churn('events', 'DELETE FROM events WHERE id = ANY($1)', $1, $2)`, [side, TXN_ROWS]);
      await client.query(`CALL insert_events($1, $2, $3)`, [nextEvent, side, TXN_ROWS]);
      nextEvent += side;
      const audit = Math.max(1, Math.round(tableRows.audit_log! * SIDE_SHARE));
      await client.query(`CALL insert_audit($1, $2)`, [audit, TXN_ROWS]);
      sourceChanges += 2 * side + audit;
      workloadSeconds += seconds(started);
      if (r % ARCHIVE_EVERY === 0 || r === ROUNDS) {
        const a = await step(
          `pitr archive (round ${r})`,
          process.execPath,
          [cli, 'pitr', 'archive', '--collection', COLLECTION, '--repo', repo, '--json'],
          work,
          log,
        );
        if (!a.ok) throw new Error('pitr archive failed');
        archives.push(a);
      }
    }
    await client.end();
    const sum = (key: string) => archives.reduce((n, a) => n + Number(a.json?.[key] ?? 0), 0);
    const archived = {
      runs: archives.length,
      changes: sum('changes'),
      transactions: sum('transactions'),
      segments: sum('segments'),
      bytes: (await dirSize(join(repo, 'segments'))).bytes,
      seconds: round2(archives.reduce((n, a) => n + a.seconds, 0)),
      cpuSeconds: round2(archives.reduce((n, a) => n + a.treeCpuSeconds, 0)),
      maxPeakRssMB: Math.max(...archives.map((a) => a.peakRssMB ?? 0)),
      medianRunSeconds: archives.map((a) => a.seconds).sort((a, b) => a - b)[Math.floor(archives.length / 2)],
      lastCommit: archives.at(-1)?.json?.lastCommit,
    };
    log(
      `archived ${archived.changes} changes (${archived.transactions} transactions, ${archived.segments} segments, ${archived.bytes} bytes) in ${archived.runs} runs, ${archived.seconds} s`,
    );
    const sourceFingerprint = await fingerprint(url);

    // Restores, each into a new database, checked against the source.
    const restores: Record<string, Step & { matches?: boolean; replaySeconds?: number }> = {};
    const restore = async (key: string, args: string[], point: boolean) => {
      const db = `bench_restore_${key.replace(/\W+/g, '_')}`;
      await server.sql('CHECKPOINT');
      // The replay's session (application_name 'tidemark replay') appears once the base is restored.
      const watch = point ? watchReplay(server.url()) : undefined;
      const s = await step(
        key,
        process.execPath,
        [cli, 'restore', ...args, '--target', server.url(db), '--repo', repo, '--json', '--workers', WORKERS],
        work,
        log,
      );
      const ended = performance.now();
      const replayStarted = await watch?.stop();
      steps.push(s);
      if (s.ok && point) {
        const fp = await fingerprint(server.url(db));
        const replaySeconds = replayStarted === undefined ? undefined : round2((ended - replayStarted) / 1000);
        restores[key] = { ...s, matches: fp === sourceFingerprint, replaySeconds };
        if (fp !== sourceFingerprint) log(`${key}: MISMATCH with the source`);
      } else restores[key] = s;
      await server.sql(`DROP DATABASE IF EXISTS ${db}`);
    };
    const pgRestore = async (key: string) => {
      await server.createDatabase('bench_restore_pg');
      await server.sql('CHECKPOINT');
      const s = await step(key, pgBin('pg_restore'), ['-j2', ...conn('bench_restore_pg'), dump], work, log, pgEnv);
      steps.push(s);
      restores[key] = s;
      await server.sql('DROP DATABASE bench_restore_pg');
    };
    const repeat = Number(process.env.BENCH_PITR_HOUR_RESTORE_ROUNDS ?? 1);
    for (let i = 1; i <= repeat; i++) {
      const sfx = i === 1 ? '' : ` #${i}`;
      const order = [
        () => restore(`full restore of the base${sfx}`, [baseBackupId], false),
        () => restore(`point restore${sfx}`, ['--collection', COLLECTION, '--to', 'latest'], true),
        () => pgRestore(`pg_restore -j2${sfx}`),
        () => restore(`full restore of the base --no-verify${sfx}`, [baseBackupId, '--no-verify'], false),
        () =>
          restore(
            `point restore --no-verify${sfx}`,
            ['--collection', COLLECTION, '--to', 'latest', '--no-verify'],
            true,
          ),
      ];
      for (const f of i % 2 ? order : order.reverse()) await f();
    }

    const pair = (sfx: string, verify: boolean) => {
      const v = verify ? '' : ' --no-verify';
      const full = restores[`full restore of the base${v}${sfx}`];
      const point = restores[`point restore${v}${sfx}`];
      const pgr = restores[`pg_restore -j2${sfx}`];
      if (!full?.ok || !point?.ok) return undefined;
      const replay = point.json?.replay as { changes: number; transactions: number } | undefined;
      // From the replay session's first sighting to the CLI's exit; else the difference with the full restore.
      const replaySeconds = point.replaySeconds ?? point.seconds - full.seconds;
      return {
        pointSeconds: point.seconds,
        fullSeconds: full.seconds,
        pgRestoreSeconds: pgr?.seconds,
        pointOverFull: round2(point.seconds / full.seconds),
        pointOverPgRestore: pgr?.ok ? round2(point.seconds / pgr.seconds) : undefined,
        replayChanges: replay?.changes,
        replayTransactions: replay?.transactions,
        replaySeconds: round2(replaySeconds),
        replayMeasuredBy: point.replaySeconds === undefined ? 'point - full' : 'replay session seen until exit',
        baseRestoreInPointSeconds:
          point.replaySeconds === undefined ? undefined : round2(point.seconds - point.replaySeconds),
        replayChangesPerSecond: replay ? Math.round(replay.changes / replaySeconds) : undefined,
        pointCpuSeconds: point.treeCpuSeconds,
        fullCpuSeconds: full.treeCpuSeconds,
        pointPeakRssMB: point.peakRssMB,
        fullPeakRssMB: full.peakRssMB,
        reached: point.json?.reached,
        matchesSource: point.matches,
      };
    };
    const result = {
      cli,
      sizeMB: SIZE_MB,
      base: {
        databaseBytes: gen.databaseBytes,
        rows: baseRows,
        tables: tableRows,
        backupId: baseBackupId,
        enableSeconds: enable.seconds,
        repositoryChunkBytes: baseRepoBytes,
        pgDumpSeconds: pgDump.seconds,
        dumpBytes: (await dirSize(dump)).bytes,
      },
      workload: {
        rounds: ROUNDS,
        rowsPerTransaction: TXN_ROWS,
        sourceChanges,
        seconds: round2(workloadSeconds),
        perRound:
          'UPDATE 1% of customers, orders, events, documents; DELETE 0.1% of events, INSERT as many; INSERT 0.1% of audit_log',
      },
      archive: {
        ...archived,
        changesPerSecond: Math.round(archived.changes / archived.seconds),
      },
      restores: Object.fromEntries(
        Object.entries(restores).map(([k, s]) => [
          k,
          {
            ok: s.ok,
            seconds: s.seconds,
            peakRssMB: s.peakRssMB,
            cpuSeconds: s.treeCpuSeconds,
            otherCpuShare: s.otherCpuShare,
            error: s.error,
          },
        ]),
      ),
      verified: [...Array(repeat)].map((_, i) => pair(i === 0 ? '' : ` #${i + 1}`, true)),
      noVerify: [...Array(repeat)].map((_, i) => pair(i === 0 ? '' : ` #${i + 1}`, false)),
      load1AtEnd: load1(),
      failures: steps.filter((s) => !s.ok).map((s) => s.name),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (
      result.failures.length ||
      result.verified.some((p) => p?.matchesSource === false) ||
      result.noVerify.some((p) => p?.matchesSource === false)
    )
      process.exitCode = 1;
  } finally {
    await server.stop().catch((e) => log(`stopping PostgreSQL: ${e}`));
    await removeAll(work);
  }
}

/** Polls pg_stat_activity every 100 ms; `stop()` gives when a 'tidemark replay' session was first seen. */
function watchReplay(url: string) {
  let first: number | undefined;
  let running = true;
  const client = new pg.Client({ connectionString: url });
  const loop = (async () => {
    await client.connect();
    while (running && first === undefined) {
      const { rows } = await client.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'tidemark replay'");
      if (rows.length) first = performance.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return first;
    },
  };
}

/** Row count and an order-independent sum of row hashes of every table: equal databases, equal strings. */
async function fingerprint(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const parts: string[] = [];
    for (const t of ['customers', 'orders', 'events', 'documents', 'audit_log']) {
      const { rows } = await client.query(
        `SELECT count(*)::text AS n, coalesce(sum(hashtext(t::text)::bigint), 0)::text AS h FROM ${t} t`,
      );
      parts.push(`${t}:${rows[0].n}:${rows[0].h}`);
    }
    return parts.join(' ');
  } finally {
    await client.end();
  }
}

const PROCEDURES = `
CREATE PROCEDURE churn(tbl text, stmt text, n int, per_txn int) LANGUAGE plpgsql AS $$
DECLARE ids bigint[]; i int := 0; total int;
BEGIN
  EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I ORDER BY random() LIMIT %s) s', tbl, n) INTO ids;
  total := coalesce(array_length(ids, 1), 0);
  WHILE i < total LOOP
    EXECUTE stmt USING ids[i + 1 : i + per_txn];
    COMMIT;
    i := i + per_txn;
  END LOOP;
END $$;
CREATE PROCEDURE insert_events(first bigint, n int, per_txn int) LANGUAGE plpgsql AS $$
DECLARE i int := 0;
BEGIN
  WHILE i < n LOOP
    INSERT INTO events SELECT g, now(), 'churn', jsonb_build_object('g', g, 'session', md5(g::text))
      FROM generate_series(first + i, first + least(i + per_txn, n) - 1) g;
    COMMIT;
    i := i + per_txn;
  END LOOP;
END $$;
CREATE PROCEDURE insert_audit(n int, per_txn int) LANGUAGE plpgsql AS $$
DECLARE i int := 0;
BEGIN
  WHILE i < n LOOP
    INSERT INTO audit_log SELECT now(), 'svc-churn', 'churn.insert', g, 'inserted ' || md5(random()::text)
      FROM generate_series(1, least(per_txn, n - i)) g;
    COMMIT;
    i := i + per_txn;
  END LOOP;
END $$;`;

main().catch((err) => {
  process.stderr.write(`bench crashed: ${redact(String((err as Error)?.stack ?? err))}\n`);
  process.exit(1);
});
