// Issue 10, item 4 (DESIGN invariant 11): partition trees with foreign keys restore with 4
// workers every time — post-data work ordered by its real dependencies, deadlocks retried — and
// "verified" means the catalog matches too: a difference planted after the restore (an index
// marked invalid, a trigger disabled) fails verification, naming it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { runBackup, runRestore, tempRepository } from '#test/support/pipeline.ts';
import { tableContents } from '#test/support/database-state.ts';
import { openLocalContext } from '#local/local-context.ts';
import { verifyBatch } from '#core/restore/verify.ts';
import { verifyCatalog } from '#core/restore/verify-catalog.ts';
import { partitionParents, postDataUnits, retryRetryable } from '#core/schema/post-data-units.ts';
import type { DdlStatement } from '#core/schema/model.ts';

const TREES = new URL('../fixtures/partition-trees/trees.sql', import.meta.url);
const RESTORES = 20;

describe('post-data units: what may run side by side', () => {
  const st = (kind: string, sql: string): DdlStatement => ({ object: sql, kind, sql });
  const parents = partitionParents([
    st('partition', `ALTER TABLE ONLY pt.ev PARTITION BY LIST (region)`), // not an attach
    st('partition', `ALTER TABLE ONLY pt.ev ATTACH PARTITION pt.ev_r1 FOR VALUES IN (1)`),
    st(
      'partition',
      `ALTER TABLE ONLY pt.ev_r1 ATTACH PARTITION "pt"."ev r1 h0" FOR VALUES WITH (modulus 2, remainder 0)`,
    ),
  ]);

  it('puts the index attaches of one tree in one unit, deepest first, and other trees apart', () => {
    const wave = [
      st('index attach', 'ALTER INDEX pt.ev_pkey ATTACH PARTITION pt.ev_r1_pkey'),
      st('index attach', 'ALTER INDEX pt.ev_r1_pkey ATTACH PARTITION "pt"."ev r1 h0_pkey"'),
      st('index attach', 'ALTER INDEX pt.other_pkey ATTACH PARTITION pt.other_1_pkey'),
      st('cluster', 'ALTER TABLE ONLY pt.ev_r1 CLUSTER ON ev_r1_pkey'),
    ];
    expect(postDataUnits(wave, (s) => s, parents).map((u) => u.map((s) => s.sql))).toEqual([
      [wave[1]!.sql, wave[0]!.sql],
      [wave[2]!.sql],
      [wave[3]!.sql],
    ]);
  });

  it("runs a partitioned table's foreign key in one unit with its partitions' own", () => {
    const wave = [
      st('foreign key', 'ALTER TABLE pt.ev ADD CONSTRAINT ev_fk FOREIGN KEY (a) REFERENCES pt.acct(a)'),
      st('trigger', 'CREATE TRIGGER x BEFORE UPDATE ON pt.ev FOR EACH ROW EXECUTE FUNCTION f()'),
      st(
        'foreign key',
        'ALTER TABLE ONLY "pt"."ev r1 h0" ADD CONSTRAINT leaf_fk FOREIGN KEY (a) REFERENCES pt.acct(a)',
      ),
      st('foreign key', 'ALTER TABLE ONLY pt.plain ADD CONSTRAINT plain_fk FOREIGN KEY (a) REFERENCES pt.acct(a)'),
      st('constraint', 'ALTER TABLE ONLY pt.ev_r1 ADD CONSTRAINT ev_r1_pkey PRIMARY KEY (id)'),
    ];
    expect(postDataUnits(wave, (s) => s, parents).map((u) => u.length)).toEqual([2, 1, 1, 1]);
    expect(postDataUnits(wave, (s) => s, parents)[0]!.map((s) => s.sql)).toEqual([wave[0]!.sql, wave[2]!.sql]);
  });

  it('serializes the statements of one default privileges entry (one pg_default_acl row)', () => {
    const entry = (object: string, sql: string): DdlStatement => ({ object, kind: 'default privileges', sql });
    const wave = [
      entry(
        'default privileges for role a on tables',
        'ALTER DEFAULT PRIVILEGES FOR ROLE a REVOKE SELECT ON TABLES FROM a',
      ),
      entry(
        'default privileges for role a on tables',
        'ALTER DEFAULT PRIVILEGES FOR ROLE a GRANT SELECT ON TABLES TO b',
      ),
      entry('default privileges for role a on types', 'ALTER DEFAULT PRIVILEGES FOR ROLE a GRANT USAGE ON TYPES TO b'),
    ];
    expect(postDataUnits(wave, (s) => s, new Map()).map((u) => u.length)).toEqual([2, 1]);
  });

  it('retries deadlocks and serialization failures, also when wrapped, and nothing else', async () => {
    let calls = 0;
    const deadlock = Object.assign(new Error('wrapped'), {
      cause: Object.assign(new Error('deadlock detected'), { code: '40P01' }),
    });
    expect(await retryRetryable(async () => (++calls < 3 ? Promise.reject(deadlock) : 'done'), { baseMs: 1 })).toBe(
      'done',
    );
    expect(calls).toBe(3);
    calls = 0;
    const syntax = Object.assign(new Error('syntax'), { code: '42601' });
    await expect(
      retryRetryable(
        async () => {
          calls++;
          throw syntax;
        },
        { baseMs: 1 },
      ),
    ).rejects.toBe(syntax);
    expect(calls).toBe(1);
  });
});

describe('post-data of partition trees with foreign keys, 4 workers', () => {
  let server: PostgresServer;
  let repo: string;
  let backupId: string;

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await server.createDatabase('trees');
    await server.sql(await readFile(TREES, 'utf8'), 'trees');
    // A trigger cloned onto the partitions, and one disabled on the source: the catalog check
    // compares their enable states.
    await server.sql(
      `CREATE FUNCTION pt.touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
       CREATE TRIGGER acct1_touch BEFORE UPDATE ON pt.acct1 FOR EACH ROW EXECUTE FUNCTION pt.touch();
       CREATE TRIGGER acct2_touch BEFORE UPDATE ON pt.acct2 FOR EACH ROW EXECUTE FUNCTION pt.touch();
       ALTER TABLE pt.acct2 DISABLE TRIGGER acct2_touch;`,
      'trees',
    );
    repo = await tempRepository();
    backupId = (await runBackup(repo, server.url('trees'), { workers: 2 })).output.backupId;
  });

  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
  });

  it(`restores ${RESTORES} times in a row, each verified, every index valid and ready`, async () => {
    const source = await tableContents(server, 'trees');
    const failures: string[] = [];
    const times: number[] = [];
    for (let i = 1; i <= RESTORES; i++) {
      const database = `trees_r${i}`;
      const started = Date.now();
      try {
        const done = await runRestore(repo, backupId, server.url(database), { workers: 4, verify: true });
        times.push(Date.now() - started);
        if (!done.verified) failures.push(`${database}: not verified`);
        const { rows } = await server.sql(
          `SELECT string_agg(indexrelid::regclass::text, ', ') AS bad FROM pg_index WHERE NOT indisvalid OR NOT indisready`,
          database,
        );
        if (rows[0].bad) failures.push(`${database}: invalid indexes ${rows[0].bad}`);
        if (i === 1) expect(await tableContents(server, database)).toEqual(source);
      } catch (err) {
        failures.push(`${database}: ${(err as Error).message.slice(0, 400)}`);
      }
      if (i > 1) await server.sql(`DROP DATABASE IF EXISTS ${database}`);
    }
    console.log(`restores: ${times.length} of ${RESTORES} finished, ms each: ${times.join(' ')}`);
    expect(failures).toEqual([]);
  });

  async function verifyAfter(plant: string): Promise<unknown> {
    const ctx = await openLocalContext(repo, { create: false });
    ctx.credentials.register('planted', server.url('trees_r1'));
    await server.sql(plant, 'trees_r1');
    try {
      return await verifyBatch({ restoreId: 'planted', backupId, target: { credentials: 'planted' }, batch: 0 }, ctx);
    } catch (err) {
      return err;
    }
  }

  it('fails verification naming an index marked invalid after the restore', async () => {
    const result = await verifyAfter(
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'pt.acct1_pkey'::regclass`,
    );
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).name).toBe('VerificationError');
    expect((result as Error).message).toMatch(/index pt\.acct1_pkey .*not valid/);
    await server.sql(`UPDATE pg_index SET indisvalid = true WHERE indexrelid = 'pt.acct1_pkey'::regclass`, 'trees_r1');
  });

  it('fails verification naming a trigger disabled after the restore, and one enabled that the source had disabled', async () => {
    const result = await verifyAfter(
      `ALTER TABLE pt.acct1 DISABLE TRIGGER acct1_touch; ALTER TABLE pt.acct2 ENABLE TRIGGER acct2_touch`,
    );
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/trigger acct1_touch on pt\.acct1/);
    expect((result as Error).message).toMatch(/trigger acct2_touch on pt\.acct2/);
    await server.sql(
      `ALTER TABLE pt.acct1 ENABLE TRIGGER acct1_touch; ALTER TABLE pt.acct2 DISABLE TRIGGER acct2_touch`,
      'trees_r1',
    );
  });

  it('passes verification of the untouched restore, catalog included', async () => {
    const result = await verifyAfter('SELECT 1');
    expect(result).toMatchObject({ batch: 0, catalog: { matched: true } });
    console.log(`catalog check: ${(result as { catalog: { ms: number } }).catalog.ms} ms`);
  });

  it('a manifest written before catalog states were recorded verifies rows only', async () => {
    const restored = server.url('trees_r1');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: restored });
    await client.connect();
    try {
      const matched = await verifyCatalog(
        async (sql, params) => (await client.query(sql, params)).rows,
        undefined,
        backupId,
      );
      expect(matched).toBe(false);
    } finally {
      await client.end();
    }
  });
});
