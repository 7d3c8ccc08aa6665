// redactSecrets: the last line of defence for messages, logs and records (DESIGN.md invariant 8).
// URLs are redacted as pg's own parser (pg-connection-string, the oracle here) splits them, and
// the connector's describeUrl / withoutPassword read them the same way.
import { describe, expect, it } from 'vitest';
import { parse as pgParse } from 'pg-connection-string';
import { redactSecrets } from '#core/errors.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import { connectionFields, redactUrl } from '#adapters/postgres/connection-url.ts';

describe('redactSecrets', () => {
  it.each([
    ['postgres://app:Pw-1@db.example:5432/shop failed', 'postgres://app:***@db.example:5432/shop failed'],
    ['postgres://app:p@ss@w0rd@db.example/shop', 'postgres://app:***@db.example/shop'],
    ['a postgres://u:x@h and postgresql://v:y@z:1/d', 'a postgres://u:***@h and postgresql://v:***@z:1/d'],
    // pg reads the user up to the first ':' and the password to the last '@' of the authority
    ['at postgres://u@corp:s3cret@db.example/shop', 'at postgres://u@corp:***@db.example/shop'],
    ['at postgres://:s3cret@db.example/shop', 'at postgres://:***@db.example/shop'],
    ['at postgres://u:p@ss@[::1]:5432/shop', 'at postgres://u:***@[::1]:5432/shop'],
    ['host=db password=hunter2 user=app', 'host=db password=*** user=app'],
    ["password: 'two words'", 'password: ***'],
    ['{"username":"app","password":"s3\\"cr@t","host":"db"}', '{"username":"app","password":"***","host":"db"}'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('leaves text without secrets alone, including URLs without a password', () => {
    const text =
      'Cannot reach PostgreSQL at db.example:5432/shop (postgres://app@db.example/shop, postgres://db.example:5432/shop): connection refused.';
    expect(redactSecrets(text)).toBe(text);
  });
});

// Passwords that trip up a parser of its own: '@' and ':' raw, a malformed '%' escape, a space.
const URLS = [
  'postgres://u:Pw1@Xq9@db.example/shop',
  'postgres://u:Pw1@Xq9:Zk7@db.example:5433/shop?sslmode=require',
  'postgresql://u@corp:Pw1@Xq9@db.example/shop',
  'postgres://:Pw1@Xq9@db.example/shop',
  'postgres://u:Pw1%zz@Xq9@db.example/shop',
  'postgres://u:Pw1@Xq9@[fd00::1]:6432/shop',
  'postgres://u:Pw1 Xq9@Zk7@db.example/shop',
];

describe('URLs read as pg reads them', () => {
  it.each(URLS)('%s', (url) => {
    const pg = pgParse(url);
    const ours = connectionFields(url);
    // the same host, port, user and password as pg: the password's tail is never a host name
    expect({ host: ours.host, port: ours.port, user: ours.user, password: ours.password }).toEqual({
      host: pg.host,
      port: Number(pg.port || 5432),
      user: pg.user || undefined,
      password: pg.password,
    });
    const where = describeUrl(url);
    expect(where).toMatch(/^(db\.example|\[fd00::1\]):\d+\/shop$/);
    // no part of the password in messages, nor in the URL the catalog stores
    const message = `Cannot connect to ${url}: refused`;
    // Free text ends a URL at a space; a URL quoted alone goes through redactUrl.
    const shownAs = url.includes(' ')
      ? [redactUrl(url), withoutPassword(url)]
      : [redactSecrets(message), redactUrl(url), withoutPassword(url)];
    for (const shown of shownAs) {
      for (const part of ['Pw1', 'Xq9', 'Zk7']) expect(shown).not.toContain(part);
    }
    expect(pgParse(withoutPassword(url)).password).toBe('');
    expect(pgParse(withoutPassword(url)).host).toBe(pg.host);
  });

  it('a password holding a space is redacted whole when the URL is quoted alone', () => {
    expect(redactUrl('postgres://u:Pw1 Xq9@Zk7@db.example/shop')).toBe('postgres://u:***@db.example/shop');
  });
});
