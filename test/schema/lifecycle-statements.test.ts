// Statement generation of the lifecycle kinds (issue 10), where a server cannot show every case:
// connection strings' secrets, subscription options of other versions, event trigger tags.
import { describe, expect, it } from 'vitest';
import { conninfoWithoutSecrets } from '#core/schema/conninfo.ts';
import { subscriptionSql, type SubscriptionRow } from '#core/schema/subscriptions.ts';
import { eventTriggerSql } from '#core/schema/event-triggers.ts';
import { placeSecurityLabels, type SecurityLabelRow } from '#core/schema/security-labels.ts';
import { Capture, Wave } from '#core/schema/context.ts';

describe('a connection string without its secrets', () => {
  it.each([
    ['host=h port=5432 password=secret dbname=d', 'host=h port=5432 dbname=d'],
    ["host = h password = 'it\\'s quoted' user='a b'", "host=h user='a b'"],
    ['sslpassword=x sslmode=require', 'sslmode=require'],
    ['postgresql://u:secret@h:5432/d?password=secret&sslmode=require', 'postgresql://u@h:5432/d?sslmode=require'],
    ['postgres://h1,h2/d?PASSWORD=x', 'postgres://h1,h2/d'],
    ['', ''],
  ])('%s → %s', (conninfo, expected) => {
    expect(conninfoWithoutSecrets(conninfo)).toBe(expected);
  });

  it('drops a string that does not parse whole: a secret could hide anywhere in it', () => {
    expect(conninfoWithoutSecrets("host=h password='unterminated")).toBeUndefined();
    expect(conninfoWithoutSecrets('just words')).toBeUndefined();
  });
});

describe('statements', () => {
  const base: SubscriptionRow = {
    oid: 1,
    ident: 's',
    owner: 'o',
    conninfo: null,
    slot: 'slot',
    publications: ['p', 'Odd Pub'],
    sync_commit: 'off',
    enabled: true,
    binary: false,
    streaming: 'f',
    two_phase: false,
    disable_on_error: false,
    origin: 'any',
    password_required: true,
    run_as_owner: false,
    failover: false,
    comment: null,
  };

  it('a subscription is created without connecting, with the options of newer versions when set', () => {
    expect(subscriptionSql(base, 'host=h')).toBe(
      `CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p, "Odd Pub" WITH (connect = false, slot_name = 'slot', streaming = off)`,
    );
    const all = {
      ...base,
      slot: null,
      streaming: 'p',
      two_phase: true,
      origin: 'none',
      password_required: false,
      run_as_owner: true,
      failover: true,
    };
    expect(subscriptionSql(all, '')).toBe(
      `CREATE SUBSCRIPTION s CONNECTION '' PUBLICATION p, "Odd Pub" WITH (connect = false, slot_name = NONE, streaming = parallel, two_phase = on, origin = none, password_required = false, run_as_owner = true, failover = true)`,
    );
  });

  it('an event trigger names its tags when it has some', () => {
    expect(eventTriggerSql({ ident: 'e', event: 'sql_drop', tags: null, func: 'a.f' })).toBe(
      'CREATE EVENT TRIGGER e ON sql_drop EXECUTE FUNCTION a.f()',
    );
    expect(eventTriggerSql({ ident: 'e', event: 'ddl_command_end', tags: ['CREATE TABLE', "it's"], func: 'a.f' })).toBe(
      `CREATE EVENT TRIGGER e ON ddl_command_end WHEN TAG IN ('CREATE TABLE', 'it''s') EXECUTE FUNCTION a.f()`,
    );
  });
});

// No label provider can be loaded on these servers (sepgsql needs SELinux; dummy_seclabel is a
// test module PostgreSQL does not install), so no pg_seclabel row can be made here and the
// capture's query only runs on empty catalogs (every fidelity test does). The placing of what it
// reads is tested on rows as it returns them.
describe('security labels', () => {
  const label = (row: Partial<SecurityLabelRow>): SecurityLabelRow => ({
    catalog: 'pg_class',
    objoid: '16400',
    objsubid: 0,
    provider: 'selinux',
    label: 'system_u:object_r:sepgsql_table_t:s0',
    described: 'table app.t',
    ...row,
  });

  it('go where the object and its comment go: a pre-data node, a column, a post-data wave, a large object', () => {
    const capture = new Capture(async () => [], 150000);
    capture.add({ key: 'pg_class:16400', kind: 'table', identity: 'app.t', statements: [] });
    capture.comments.set('pg_class:16400', {
      target: 'TABLE app.t',
      object: 'table app.t',
      node: 'pg_class:16400',
      columns: new Map([[2, 'app.t."Odd Col"']]),
    });
    capture.comments.set('pg_trigger:16500', {
      target: 'TRIGGER tr ON app.t',
      object: 'trigger tr',
      wave: Wave.finishing,
    });
    placeSecurityLabels(capture, [
      label({}),
      label({ objsubid: 2, provider: 'Odd Provider', label: "it's" }),
      label({ catalog: 'pg_trigger', objoid: '16500', described: 'trigger tr on table app.t' }),
      label({ catalog: 'pg_largeobject', objoid: '1001', described: 'large object 1001' }),
    ]);
    expect(capture.objects.get('pg_class:16400')!.statements.map((s) => s.sql)).toEqual([
      "SECURITY LABEL FOR selinux ON TABLE app.t IS 'system_u:object_r:sepgsql_table_t:s0'",
      `SECURITY LABEL FOR "Odd Provider" ON COLUMN app.t."Odd Col" IS 'it''s'`,
    ]);
    expect(capture.post[Wave.finishing]!.map((s) => s.sql)).toEqual([
      "SECURITY LABEL FOR selinux ON TRIGGER tr ON app.t IS 'system_u:object_r:sepgsql_table_t:s0'",
    ]);
    expect(capture.post[Wave.dependents]!.map((s) => [s.object, s.sql])).toEqual([
      [
        'large object 1001',
        "SECURITY LABEL FOR selinux ON LARGE OBJECT 1001 IS 'system_u:object_r:sepgsql_table_t:s0'",
      ],
    ]);
    expect(capture.warnings).toEqual([]);
  });

  it("a label on an object placed no other way is named in a warning; an extension member's is its extension's", () => {
    const capture = new Capture(async () => [], 150000);
    capture.add({ key: 'pg_extension:16384', kind: 'extension', identity: 'e', statements: [] });
    capture.alias('pg_proc:16390', 'pg_extension:16384');
    placeSecurityLabels(capture, [
      label({ catalog: 'pg_event_trigger', objoid: '16600', described: 'event trigger e' }),
      label({ catalog: 'pg_proc', objoid: '16390', described: 'function f()' }),
    ]);
    expect(capture.warnings).toEqual([
      "security labels not backed up (their objects' kind carries none): selinux on event trigger e",
    ]);
    expect(capture.objects.get('pg_extension:16384')!.statements).toEqual([]);
  });
});
