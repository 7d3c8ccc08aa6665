// pitr enable refuses YugabyteDB (issue 13, item 7): how a source is recognised.
import { expect, test } from 'vitest';
import { yugabyteEvidence } from '#core/pitr/yugabyte.ts';

const postgres = {
  version:
    'PostgreSQL 15.10 (Debian 15.10-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit',
  serverVersion: '15.10 (Debian 15.10-0+deb12u1)',
  ybSettings: [],
};

test('PostgreSQL, RDS and Aurora are not YugabyteDB', () => {
  expect(yugabyteEvidence(postgres)).toBeUndefined();
  expect(
    yugabyteEvidence({
      version:
        'PostgreSQL 16.4 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit',
      serverVersion: '16.4',
      ybSettings: [],
    }),
  ).toBeUndefined();
});

test('YugabyteDB is known by its server_version, its version() or its yb_ settings', () => {
  expect(yugabyteEvidence({ ...postgres, serverVersion: '11.2-YB-2.20.1.0-b0' })).toBe(
    'server_version is 11.2-YB-2.20.1.0-b0',
  );
  expect(
    yugabyteEvidence({
      ...postgres,
      version: 'PostgreSQL 15.2-YB-2.25.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 17.0.6, 64-bit',
    }),
  ).toMatch(/^version\(\) is "PostgreSQL 15\.2-YB-2\.25/);
  expect(
    yugabyteEvidence({ ...postgres, ybSettings: ['yb_enable_read_committed_isolation', 'yb_read_from_followers'] }),
  ).toBe('it has YugabyteDB settings (yb_enable_read_committed_isolation, yb_read_from_followers)');
});
