// pitr enable / archive / disable against a real PostgreSQL 15 (FORMAT.md, "Point-in-time
// recovery"): the preflight refuses what cannot be replayed and changes nothing; the source's
// writes never fail because of Tidemark; the archive holds every committed transaction once,
// whole, in commit order, also when a run dies between writing a segment and advancing the slot.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';
import { tempRepository } from '../support/pipeline.ts';
import { archivedSegments, openPitrSource } from '../support/pitr-source.ts';
import { enablePitr, disablePitr, PitrPreflightError } from '#core/pitr/enable.ts';
import { archiveChanges } from '#core/pitr/archive.ts';
import { compareLsn } from '#core/pitr/lsn.ts';
import type { ChangeStream } from '#core/ports/change-stream.ts';
import { ConcurrentArchiverError, sealSegment, writeSegment } from '#core/pitr/segment.ts';

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgres({ extraFlags: ['-c', 'synchronous_commit=on'] });
});
afterAll(async () => {
  await server?.stop();
});

test('preflight names each table that cannot be replayed with its fix, and changes nothing', async () => {
  const url = await server.createDatabase('refused');
  await server.sql(
    'CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (a int); CREATE TABLE silent (id int PRIMARY KEY); ALTER TABLE silent REPLICA IDENTITY NOTHING',
    'refused',
  );
  const src = await openPitrSource(await tempRepository(), url);
  try {
    const err = await enablePitr(src.session, src.stream, src.ctx.storage, 'refused').catch((e) => e);
    expect(err).toBeInstanceOf(PitrPreflightError);
    expect(err.message).toContain('table loose has no primary key and no replica identity index');
    expect(err.message).toContain('ALTER TABLE loose REPLICA IDENTITY FULL;');
    expect(err.message).toContain('table silent has REPLICA IDENTITY NOTHING');
    expect(err.message).not.toContain('table keyed');
    const left = await server.sql(
      'SELECT (SELECT count(*) FROM pg_replication_slots)::int AS slots, (SELECT count(*) FROM pg_event_trigger)::int AS triggers',
      'refused',
    );
    expect(left.rows[0]).toEqual({ slots: 0, triggers: 0 });
  } finally {
    await src.close();
  }
});

test('enable says what the archive cannot carry: unlogged tables and large objects', async () => {
  const url = await server.createDatabase('undecoded');
  await server.sql(
    "CREATE TABLE kept (id int PRIMARY KEY); CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY); SELECT lo_from_bytea(0, 'x')",
    'undecoded',
  );
  const src = await openPitrSource(await tempRepository(), url);
  try {
    const { warnings } = await enablePitr(src.session, src.stream, src.ctx.storage, 'undecoded');
    expect(warnings.filter((w) => w.startsWith('unlogged tables scratch write no WAL'))).toHaveLength(1);
    expect(warnings.filter((w) => w.startsWith('the 1 large objects are not archived'))).toHaveLength(1);
    expect(warnings.join(' ')).not.toContain('kept');
  } finally {
    await src.close();
  }
});

test('archive holds each committed transaction once, whole, with its DDL; a keyless table created later still takes updates', async () => {
  const url = await server.createDatabase('bank');
  await server.sql(
    'CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL); INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 50) g',
    'bank',
  );
  const repo = await tempRepository();
  const src = await openPitrSource(repo, url);
  try {
    const enabled = await enablePitr(src.session, src.stream, src.ctx.storage, 'bank');
    expect(enabled.slot).toBe('tidemark_bank');
    // Invariant 12: no publication, so a table without any key takes UPDATE and DELETE.
    await server.sql(
      "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('a'), ('b'); UPDATE notes SET body = 'c' WHERE body = 'a'; DELETE FROM notes WHERE body = 'b'",
      'bank',
    );
    await server.sql("ALTER TABLE accounts ADD COLUMN owner text DEFAULT 'n/a'", 'bank');
    for (let i = 0; i < 20; i++)
      await server.sql(
        `UPDATE accounts SET balance = balance - 1 WHERE id = ${i + 1}; UPDATE accounts SET balance = balance + 1 WHERE id = ${i + 2}`,
        'bank',
      );
    // A transaction larger than a segment spills into parts.
    await server.sql("INSERT INTO accounts SELECT g, 5, repeat('x', 200) FROM generate_series(100, 2099) g", 'bank');

    // The first run dies after writing its first segment, before advancing the slot.
    let advances = 0;
    const dying: ChangeStream = {
      createSlot: (s) => src.stream.createSlot(s),
      dropSlot: (s) => src.stream.dropSlot(s),
      slotState: (s) => src.stream.slotState(s),
      peek: (s) => src.stream.peek(s),
      heartbeat: () => src.stream.heartbeat(),
      advance: async (s, lsn) => {
        if (advances++ >= 1) throw new Error('archiver killed');
        return src.stream.advance(s, lsn);
      },
    };
    await expect(archiveChanges(dying, src.ctx.storage, 'bank', { segmentBytes: 64 * 1024 })).rejects.toThrow(
      'archiver killed',
    );
    const second = await archiveChanges(src.stream, src.ctx.storage, 'bank', { segmentBytes: 64 * 1024 });
    expect(second.segments).toBeGreaterThan(1);

    const segments = await archivedSegments(src.ctx.storage, 'bank');
    const records = segments.flatMap((s) => s.records);
    const commits = records.filter((r) => r.k === 'C');
    const begins = records.filter((r) => r.k === 'B');
    expect(new Set(commits.map((c) => c.xid)).size).toBe(commits.length);
    expect(begins.map((b) => b.xid)).toEqual(commits.map((c) => c.xid));
    const ddl = records.filter((r) => r.k === 'M').map((r) => JSON.parse(r.k === 'M' ? r.content : '{}'));
    expect(ddl.map((d) => d.tag)).toEqual(['CREATE TABLE', 'ALTER TABLE']);
    expect(ddl[1].query).toContain('ADD COLUMN owner');
    expect(records.filter((r) => r.k === 'I' && r.rel === 'public.accounts')).toHaveLength(2000);
    expect(records.filter((r) => r.k === 'U' && r.rel === 'public.accounts')).toHaveLength(40);
    const deleted = records.find((r) => r.k === 'D' && r.rel === 'public.notes');
    expect(deleted).toEqual({ k: 'D', rel: 'public.notes', old: null });
    expect(segments.some((s) => s.segment.openAtEnd)).toBe(true);
    // The slot is confirmed up to the archive's end: past the last commit, at the run's heartbeat.
    const slot = await src.stream.slotState('tidemark_bank');
    expect(slot!.confirmedLsn).toBe(second.endLsn);
    expect(compareLsn(second.endLsn, second.lastCommit!.lsn)).toBe(1);
    // Nothing new: a third run archives no transaction.
    expect((await archiveChanges(src.stream, src.ctx.storage, 'bank')).transactions).toBe(0);

    const { dropped } = await disablePitr(src.session, src.stream, 'bank');
    expect(dropped).toEqual([
      'event trigger tidemark_ddl_bank',
      'function public.tidemark_ddl_bank()',
      'replication slot tidemark_bank',
    ]);
  } finally {
    await src.close();
  }
});

test('an idle database still moves its slot on (heartbeat), so the WAL other databases write is recycled', async () => {
  const url = await server.createDatabase('idle');
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', 'idle');
  await server.createDatabase('busy');
  const src = await openPitrSource(await tempRepository(), url);
  try {
    await enablePitr(src.session, src.stream, src.ctx.storage, 'idle');
    await server.sql("CREATE TABLE w AS SELECT g, repeat('w', 200) AS pad FROM generate_series(1, 40000) g", 'busy');
    // The slot's restart point moves at a snapshot record of running transactions, which the
    // server writes every 15 s while busy, and at each checkpoint.
    await server.sql('CHECKPOINT');
    const before = await src.stream.slotState('tidemark_idle');
    expect(before!.retainedBytes).toBeGreaterThan(5_000_000);
    const result = await archiveChanges(src.stream, src.ctx.storage, 'idle');
    expect(result.transactions).toBe(0);
    const after = await src.stream.slotState('tidemark_idle');
    expect(after!.confirmedLsn).toBe(result.endLsn);
    expect(after!.retainedBytes).toBeLessThan(before!.retainedBytes / 4);
    // The chain stays whole: a later commit archives after the heartbeat's segment.
    await server.sql('INSERT INTO t VALUES (1)', 'idle');
    expect((await archiveChanges(src.stream, src.ctx.storage, 'idle')).transactions).toBe(1);
    expect(
      (await archivedSegments(src.ctx.storage, 'idle')).flatMap((s) => s.records).filter((r) => r.k === 'I'),
    ).toHaveLength(1);
  } finally {
    await src.close();
  }
});

test("an archiver that finds another one's segment with other records stops before moving the slot", async () => {
  const url = await server.createDatabase('twice');
  await server.sql('CREATE TABLE t (id int PRIMARY KEY)', 'twice');
  const src = await openPitrSource(await tempRepository(), url);
  try {
    await enablePitr(src.session, src.stream, src.ctx.storage, 'twice');
    await server.sql('INSERT INTO t VALUES (1)', 'twice');
    const [{ segment: opening }] = await archivedSegments(src.ctx.storage, 'twice');
    // Another archiver, started from the same tail, writes its next segment while this one reads.
    const racing: ChangeStream = {
      createSlot: (s) => src.stream.createSlot(s),
      dropSlot: (s) => src.stream.dropSlot(s),
      slotState: (s) => src.stream.slotState(s),
      heartbeat: () => src.stream.heartbeat(),
      advance: (s, lsn) => src.stream.advance(s, lsn),
      async *peek(s) {
        await writeSegment(
          src.ctx.storage,
          await sealSegment({ ...opening!, part: 1 }, [
            JSON.stringify({ k: 'M', prefix: 'tidemark_ddl', content: '{}' }),
          ]),
        );
        yield* src.stream.peek(s);
      },
    };
    await expect(archiveChanges(racing, src.ctx.storage, 'twice')).rejects.toThrow(ConcurrentArchiverError);
    expect((await src.stream.slotState('tidemark_twice'))!.confirmedLsn).toBe(opening!.endLsn);
  } finally {
    await src.close();
  }
});
