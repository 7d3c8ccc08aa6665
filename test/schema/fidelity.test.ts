// The oracle test: a database rebuilt from the captured schema dumps exactly like the source.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DdlStatement, SchemaSnapshot } from '#core/schema/model.ts';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { applySnapshot, capture, copyTables, dumpSchema, finishData, loadFixture } from './helpers.ts';

describe('schema capture on PostgreSQL 15 (pg_dump as oracle)', () => {
  let server: PostgresServer;
  let snapshot: SchemaSnapshot;
  let applyWarnings: string[];

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    await loadFixture(await server.createDatabase('source'));
    snapshot = await capture(server.url('source'));
    applyWarnings = await applySnapshot(await server.createDatabase('target'), snapshot);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('rebuilds a database whose pg_dump --schema-only is identical', async () => {
    const [source, target] = [await dumpSchema(server, 'source'), await dumpSchema(server, 'target')];
    expect(source).toContain('CREATE TABLE app.customer');
    expect(target).toBe(source);
    expect(applyWarnings).toEqual([]);
  });

  it('restores data between pre- and post-data so a full pg_dump (with rows) is identical too', async () => {
    const target = await server.createDatabase('with_data');
    const warnings = await applySnapshot(target, snapshot, {
      load: () => copyTables(server.url('source'), target, snapshot),
    });
    await finishData(target, snapshot);
    expect(warnings).toEqual([]);
    const [source, restored] = [await dumpSchema(server, 'source', true), await dumpSchema(server, 'with_data', true)];
    expect(source).toContain('COPY app.awkward');
    expect(restored).toBe(source);
  }, 60_000);

  it('grants on relations come after the data, row-level security and policies, one per object per wave, a grant option before its use', () => {
    const anyGrant = (s: DdlStatement) => s.kind === 'acl' && /^(GRANT|SET SESSION AUTHORIZATION) /.test(s.sql);
    const grant = (s: DdlStatement) => anyGrant(s) && /^(table|view|materialized view|sequence) /.test(s.object);
    expect(snapshot.preData.filter(grant)).toEqual([]);
    // Revokes, and grants on schemas, types and functions (index expressions may need them), stay with their object.
    expect(snapshot.preData.some((s) => s.kind === 'acl' && s.sql.startsWith('REVOKE '))).toBe(true);
    expect(snapshot.preData.some((s) => anyGrant(s) && s.object === 'schema app')).toBe(true);
    const waveOf = (match: (s: DdlStatement) => boolean) => snapshot.postData.findIndex((wave) => wave.some(match));
    const firstGrantWave = waveOf(grant);
    expect(firstGrantWave).toBeGreaterThan(waveOf((s) => s.kind === 'policy'));
    expect(firstGrantWave).toBeGreaterThan(waveOf((s) => /ROW LEVEL SECURITY/.test(s.sql)));
    for (const wave of snapshot.postData.slice(firstGrantWave)) {
      expect(wave.every(grant)).toBe(true);
      const objects = wave.map((s) => s.object);
      expect(new Set(objects).size, objects.join(', ')).toBe(objects.length);
    }
    // e.granted: the owner gives tidemark_reader SELECT WITH GRANT OPTION, which then grants it to PUBLIC.
    const withOption = waveOf(
      (s) =>
        s.object === 'table e.granted' &&
        /GRANT SELECT ON TABLE e\.granted TO tidemark_reader WITH GRANT OPTION/.test(s.sql),
    );
    const byReader = waveOf(
      (s) =>
        s.object === 'table e.granted' && s.sql.startsWith('SET SESSION AUTHORIZATION tidemark_reader; GRANT SELECT'),
    );
    expect(withOption).toBeGreaterThanOrEqual(firstGrantWave);
    expect(byReader).toBeGreaterThan(withOption);
  });

  it('lists the tables with rows, without dropped and generated columns', () => {
    const invoice = snapshot.tables.find((t) => t.schema === 'app' && t.name === 'invoice');
    expect(invoice?.columns).toEqual(['invoice_no', 'customer_id', 'amount', 'during', 'note', 'lines', 'added_later']);
    const names = snapshot.tables.map((t) => `${t.schema}.${t.name}`);
    expect(names).toContain('app.measurement_2024_north');
    expect(names).not.toContain('app.measurement'); // partitioned: no storage
    expect(names).not.toContain('app.measurement_2024');
    expect(names).toContain('Odd "Schema".Mixed Case Table');
  });

  it('records sequence states and the populated materialized views', () => {
    expect(snapshot.sequences).toContainEqual({
      schema: 'app',
      name: 'invoice_no',
      lastValue: '4242',
      isCalled: false,
    });
    expect(snapshot.sequences.find((s) => s.name === 'customer_id_seq')?.isCalled).toBe(true);
    // Dependency order: e.mv2 reads e.mv1. app.empty_mv was never populated.
    expect(snapshot.materializedViews).toEqual([
      { schema: 'app', name: 'invoice_totals' },
      { schema: 'e', name: 'mv1' },
      { schema: 'e', name: 'mv2' },
      { schema: 'e', name: 'other_am_mv' },
    ]);
  });

  it('reports nothing unsupported for the fixture, and writes fully qualified statements', () => {
    expect(snapshot.warnings).toEqual([]);
    const view = snapshot.preData.find((s) => s.object === 'view app.stats');
    expect(view?.sql).toContain('app.customer_count()');
  });
});
