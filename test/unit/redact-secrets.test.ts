// redactSecrets: the last line of defence for messages, logs and records (DESIGN.md invariant 8).
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '#core/errors.ts';

describe('redactSecrets', () => {
  it.each([
    ['postgres://app:Pw-1@db.example:5432/shop failed', 'postgres://app:***@db.example:5432/shop failed'],
    ['postgres://app:p@ss@w0rd@db.example/shop', 'postgres://app:***@db.example/shop'],
    ['a postgres://u:x@h and postgresql://v:y@z:1/d', 'a postgres://u:***@h and postgresql://v:***@z:1/d'],
    ['host=db password=hunter2 user=app', 'host=db password=*** user=app'],
    ["password: 'two words'", 'password: ***'],
    ['{"username":"app","password":"s3\\"cr@t","host":"db"}', '{"username":"app","password":"***","host":"db"}'],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('leaves text without secrets alone, including URLs without a password', () => {
    const text = 'Cannot reach PostgreSQL at db.example:5432/shop (postgres://app@db.example/shop): connection refused.';
    expect(redactSecrets(text)).toBe(text);
  });
});
