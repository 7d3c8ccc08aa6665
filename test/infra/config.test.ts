// The configuration file: what a good one yields, and that every mistake fails synth with a
// message naming the file and the field.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../infra/config.ts';
import { longestIntervalMinutes } from '../../infra/schedule-expression.ts';
import { stalenessWindow } from '../../infra/constructs/monitoring.ts';
import { createTidemarkApp, DEFAULT_CONFIG } from '../../infra/tidemark-app.ts';
import { EXAMPLE_CONFIG, exampleConfig } from './support/synth.ts';

const FILE = 'tidemark.config.json';

/** The example configuration with `change` applied, as text. */
function variant(change: (config: any) => void): string {
  const config = JSON.parse(JSON.stringify(exampleConfig()));
  change(config);
  return JSON.stringify(config);
}

function errorOf(text: string): string {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('the example configuration', () => {
  it('parses, with defaults filled in', () => {
    // GIVEN the file a fresh clone synthesizes from
    const config = exampleConfig();
    // THEN
    expect(config.stackName).toBe('Tidemark');
    expect(config.env).toEqual({ account: '123456789012', region: 'eu-west-1' });
    expect(config.sources.map((s) => s.id)).toEqual(['orders', 'billing']);
    expect(config.collections.map((c) => [c.name, c.source, c.workers])).toEqual([
      ['orders-nightly', 'orders', 8],
      ['billing-6h', 'billing', 4],
    ]);
    // The orders server is a restore target too (a disaster-recovery restore into its own
    // server must be listed), billing's is not; the break-glass role is named.
    expect(config.restoreTargets.map((t) => [t.id, t.secretArn, t.securityGroupId])).toEqual([
      [
        'dr-sandbox',
        'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tidemark/dr-sandbox-Ij56Kl',
        'sg-0c1d2e3f4a5b60720',
      ],
      ['orders-in-place', config.sources[0]!.secretArn, config.sources[0]!.network.securityGroupId],
    ]);
    expect(config.breakGlassRoleArn).toBe('arn:aws:iam::123456789012:role/TidemarkBreakGlass');
    expect(config.repository.verifyIntervalDays).toBe(7);
  });
});

describe('a bad configuration fails, naming the field', () => {
  const cases: Array<[string, (c: any) => void, RegExp]> = [
    [
      'a cron with both day fields set',
      (c) => (c.collections[0].schedule.expression = 'cron(0 3 * * * *)'),
      /^tidemark\.config\.json: collections\[0\]\.schedule\.expression: .*exactly one of day-of-month and day-of-week/m,
    ],
    [
      'a cron with 5 fields',
      (c) => (c.collections[0].schedule.expression = 'cron(0 3 * * ?)'),
      /collections\[0\]\.schedule\.expression: .*6 fields/,
    ],
    [
      'an unsupported cron token',
      (c) => (c.collections[1].schedule.expression = 'cron(0 3 L * ? *)'),
      /collections\[1\]\.schedule\.expression: .*L, W and # are not supported/,
    ],
    [
      'a rate too frequent',
      (c) => (c.collections[0].schedule.expression = 'rate(5 minutes)'),
      /collections\[0\]\.schedule\.expression: .*at least 15 min/,
    ],
    [
      'a plural unit for 1',
      (c) => (c.collections[0].schedule.expression = 'rate(1 hours)'),
      /collections\[0\]\.schedule\.expression: .*singular unit/,
    ],
    [
      'an unknown time zone',
      (c) => (c.collections[0].schedule.timeZone = 'Europe/Atlantis'),
      /collections\[0\]\.schedule\.timeZone: "Europe\/Atlantis" is not an IANA time zone/,
    ],
    [
      'an unknown source',
      (c) => (c.collections[1].source = 'payroll'),
      /collections\[1\]\.source: "payroll" is not the id of an entry of sources \(orders, billing\)/,
    ],
    [
      'a partial secret ARN',
      (c) => (c.sources[0].secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders'),
      /sources\[0\]\.secretArn: a complete Secrets Manager secret ARN/,
    ],
    [
      'sources in two VPCs',
      (c) => (c.sources[1].network.vpcId = 'vpc-0000000000000000f'),
      /sources\[1\]\.network\.vpcId: .*one stack per VPC/,
    ],
    [
      'a duplicate collection',
      (c) => (c.collections[1].name = c.collections[0].name),
      /collections\[1\]\.name: "orders-nightly" is used twice/,
    ],
    [
      'empty retention',
      (c) => (c.collections[0].retention = {}),
      /collections\[0\]\.retention: name at least one of keepLast/,
    ],
    [
      'an archive in the stack region',
      (c) => (c.collections[0].archiveRegion = 'eu-west-1'),
      /collections\[0\]\.archiveRegion: is the stack's own region/,
    ],
    ['too many workers', (c) => (c.collections[0].workers = 64), /collections\[0\]\.workers: /],
    ['an unknown field', (c) => (c.collections[0].scheduel = {}), /collections\[0\]: Unrecognized key: "scheduel"/],
    ['no env', (c) => delete c.env, /^tidemark\.config\.json: env: /],
    [
      'maxAgeDays, which retention does not enforce',
      (c) => (c.collections[1].retention = { keepLast: 28, maxAgeDays: 30 }),
      /collections\[1\]\.retention\.maxAgeDays: is not enforced by retention \(only keepLast, keepDaily, keepWeekly and keepMonthly are\)/,
    ],
    [
      'no restore target',
      (c) => (c.restoreTargets = []),
      /^tidemark\.config\.json: restoreTargets: name at least one database a restore may write into .*list that server's secret here too/m,
    ],
    [
      'a restore target without its security group',
      (c) => delete c.restoreTargets[0].securityGroupId,
      /restoreTargets\[0\]\.securityGroupId: /,
    ],
    ['no break-glass role', (c) => delete c.breakGlassRoleArn, /^tidemark\.config\.json: breakGlassRoleArn: /m],
    [
      'a break-glass user, not a role',
      (c) => (c.breakGlassRoleArn = 'arn:aws:iam::123456789012:user/admin'),
      /breakGlassRoleArn: an IAM role ARN/,
    ],
    [
      'a break-glass role of another account',
      (c) => (c.breakGlassRoleArn = 'arn:aws:iam::210987654321:role/BreakGlass'),
      /breakGlassRoleArn: is a role of account 210987654321, not of the stack's account 123456789012/,
    ],
    [
      'a subnet without its route table',
      (c) => delete c.sources[0].network.subnets[1].routeTableId,
      /sources\[0\]\.network\.subnets\[1\]\.routeTableId: /,
    ],
    ['a verify interval of 0 days', (c) => (c.repository.verifyIntervalDays = 0), /repository\.verifyIntervalDays: /],
  ];
  for (const [what, change, message] of cases) {
    it(what, () => {
      // GIVEN the example with one mistake / WHEN it is parsed / THEN the message names the field
      expect(errorOf(variant(change))).toMatch(message);
    });
  }

  it('reports every mistake at once, one line each', () => {
    const message = errorOf(
      variant((c) => {
        c.collections[0].schedule.timeZone = 'Nowhere';
        c.sources[1].port = 0;
      }),
    );
    expect(message.split('\n')).toEqual([
      expect.stringMatching(/^tidemark\.config\.json: sources\[1\]\.port: /),
      expect.stringMatching(/^tidemark\.config\.json: collections\[0\]\.schedule\.timeZone: /),
    ]);
  });

  it('says so when the file is not JSON', () => {
    expect(errorOf('{ "stackName": ')).toMatch(/^tidemark\.config\.json: not valid JSON: /);
  });

  it('fails the CDK app before any construct is made', () => {
    // GIVEN a bad file on disk
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      variant((c) => (c.collections[0].schedule.expression = 'daily')),
    );
    // WHEN the app is built from it / THEN
    expect(() => createTidemarkApp({ configPath: file })).toThrow(
      `${file}: collections[0].schedule.expression: "daily" is neither rate(<n> <unit>) nor cron(<6 fields>)`,
    );
  });

  it('makes `cdk synth` (infra/app.ts with -c config=…) exit 1 with the message alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      variant((c) => (c.collections[1].source = 'payroll')),
    );
    // The CDK CLI hands `-c` context to the app in CDK_CONTEXT_JSON.
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ config: file }), CDK_OUTDIR: dir },
    });
    const failure = (await run.then(
      () => undefined,
      (err: unknown) => err,
    )) as { code: number; stderr: string } | undefined;
    expect(failure?.code).toBe(1);
    expect(failure!.stderr.trim()).toBe(
      `${file}: collections[1].source: "payroll" is not the id of an entry of sources (orders, billing)`,
    );
  });
});

describe('schedule intervals and the staleness window', () => {
  it.each([
    ['rate(6 hours)', 360],
    ['rate(1 day)', 1440],
    ['cron(30 2 * * ? *)', 1440],
    ['cron(0 */4 * * ? *)', 240],
    ['cron(0 0,12 * * ? *)', 720],
    ['cron(0 3 ? * MON-FRI *)', 3 * 1440],
    ['cron(0 3 ? * SUN *)', 7 * 1440],
    ['cron(0 3 1 * ? *)', 31 * 1440],
  ])('%s runs at most every %i minutes', (expression, minutes) => {
    expect(longestIntervalMinutes(expression)).toBe(minutes);
  });

  it('watches twice the interval, in periods CloudWatch accepts', () => {
    // Six-hourly: one 12 h period. Daily: two 1-day periods. Weekdays: six 1-day periods.
    expect(stalenessWindow(360)).toEqual({ periodSeconds: 43_200, evaluationPeriods: 1 });
    expect(stalenessWindow(1440)).toEqual({ periodSeconds: 86_400, evaluationPeriods: 2 });
    expect(stalenessWindow(3 * 1440)).toEqual({ periodSeconds: 86_400, evaluationPeriods: 6 });
    // Weekly: 14 days is past CloudWatch's 7-day evaluation limit.
    expect(stalenessWindow(7 * 1440)).toBeUndefined();
  });
});

describe('cdk.json', () => {
  it('synthesizes the example configuration by default, with the CLI kept offline', () => {
    const cdk = JSON.parse(readFileSync('cdk.json', 'utf8'));
    expect(cdk.context.config).toBe(EXAMPLE_CONFIG);
    expect(DEFAULT_CONFIG).toBe(EXAMPLE_CONFIG);
    expect(cdk.notices).toBe(false);
    expect(cdk.context['cli-telemetry']).toBe(false);
    expect(cdk.app).toBe('node --import tsx infra/app.ts');
  });
});
