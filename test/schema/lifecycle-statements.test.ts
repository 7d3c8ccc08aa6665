// Statement generation of the lifecycle kinds (issue 10), where a server cannot show every case:
// connection strings' secrets, subscription options of other versions, event trigger tags.
import { describe, expect, it } from 'vitest';
import { conninfoWithoutSecrets } from '#core/schema/conninfo.ts';
import { subscriptionSql, type SubscriptionRow } from '#core/schema/subscriptions.ts';
import { eventTriggerSql } from '#core/schema/event-triggers.ts';

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
      `CREATE SUBSCRIPTION s CONNECTION 'host=h' PUBLICATION p, "Odd Pub" WITH (connect = false, slot_name = 'slot')`,
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
