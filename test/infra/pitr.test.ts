// Point-in-time recovery in the stack (issue 13, item 6): per PITR collection a schedule starting
// the Express archive machine with the typed input, the alarms on the archive's figures, the gap
// rule that starts a base backup, and the archive task's grants, derived from its access entry.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { ARCHIVE_ASL_PATH, archiveRunInput } from '../../infra/constructs/change-archive.ts';
import { backupRunInput } from '../../infra/constructs/backup-schedules.ts';
import { PitrConfigSchema } from '../../infra/pitr-config.ts';
import { ArchiveRunInputSchema, ARCHIVE_DRAIN_SECONDS } from '../../src/core/pipelines/archive-input.ts';
import { TASKS } from '../../functions/index.ts';
import { exampleConfig, logicalIdOf, render, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

// asl-validator is CommonJS without type declarations.
const validator = createRequire(import.meta.url)('asl-validator') as (definition: unknown) => {
  isValid: boolean;
  errorsText: (separator?: string) => string;
};

let s: Synthesized;
let plain: Synthesized;
let machine: string;
const resource = (id: string) => s.template.toJSON().Resources[id];

beforeAll(() => {
  const base = exampleConfig();
  // The first collection archives every minute (the default), the second every 5 min.
  const collections = base.collections.map((c, i) => ({
    ...c,
    pitr: PitrConfigSchema.parse(i === 0 ? {} : { intervalMinutes: 5, retainedWalAlarmBytes: 2 * 1024 ** 3 }),
  }));
  s = synthesize({ ...base, collections });
  plain = synthesize(base);
  machine = logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesArchive');
}, 120_000);

describe('the archive state machine', () => {
  it('is Express, from state-machines/archive.asl.json, invoking only PitrArchive and publishing only on the bus', () => {
    expect(resource(machine).Properties).toMatchObject({
      StateMachineType: 'EXPRESS',
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
      TracingConfiguration: { Enabled: true },
    });
    const fn = logicalIdOf(s.template, 'AWS::Lambda::Function', 'TasksPitrArchive');
    const role = render(resource(machine).Properties.RoleArn).replace(/^<|\.Arn>$/g, '');
    const granted = statementsOfRole(s.template, role).filter((st) => st.Sid);
    expect(granted.find((st) => st.Sid === 'InvokeTasks')).toMatchObject({
      Action: ['lambda:InvokeFunction'],
      Resource: [`<${fn}.Arn>`],
    });
    expect(granted.find((st) => st.Sid === 'PublishEvents')?.Action).toEqual(['events:PutEvents']);
  });

  it('the ASL is valid, ends in success, and catches every failure into a ChangeArchiveFailed event', () => {
    const asl = JSON.parse(readFileSync(ARCHIVE_ASL_PATH, 'utf8'));
    const text = JSON.stringify(asl)
      .replaceAll('${PitrArchiveFunctionArn}', 'arn:aws:lambda:eu-west-1:123456789012:function:f')
      .replaceAll('${EventBusName}', 'bus');
    const { isValid, errorsText } = validator(JSON.parse(text));
    expect(isValid, errorsText()).toBe(true);
    expect(asl.States.Archive.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'DescribeFailure' },
    ]);
    expect(asl.States.Archived.End).toBe(true);
    expect(asl.States.EmitChangeArchiveFailed.Parameters.Entries[0].DetailType).toBe('ChangeArchiveFailed');
    expect(asl.States.EmitChangeArchiveGap.Parameters.Entries[0].DetailType).toBe('ChangeArchiveGap');
    expect(asl.States.ArchiveFailed.Type).toBe('Fail');
  });

  it('exists without PITR collections too (no schedule then), so a collection can be added by config alone', () => {
    logicalIdOf(plain.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesArchive');
    expect(
      Object.keys(plain.template.findResources('AWS::Scheduler::Schedule')).filter((id) =>
        id.startsWith('ChangeArchive'),
      ),
    ).toEqual([]);
  });
});

describe('schedules', () => {
  it('one per PITR collection, at its interval, starting the archive machine with the typed input', () => {
    const [first, second] = s.config.collections;
    for (const [c, rate] of [
      [first!, 'rate(1 minute)'],
      [second!, 'rate(5 minutes)'],
    ] as const) {
      const id = logicalIdOf(
        s.template,
        'AWS::Scheduler::Schedule',
        `ChangeArchive${c.name.replaceAll('-', '')}Schedule`,
      );
      const source = s.config.sources.find((x) => x.id === c.source)!;
      const input = archiveRunInput(c, source);
      expect(ArchiveRunInputSchema.parse(input)).toEqual(input);
      expect(input).toEqual({
        collection: c.name,
        source: { credentials: source.secretArn, database: source.database },
        drainSeconds: ARCHIVE_DRAIN_SECONDS,
      });
      expect(resource(id).Properties).toMatchObject({
        ScheduleExpression: rate,
        State: 'ENABLED',
        Target: {
          Arn: { Ref: machine },
          Input: JSON.stringify(input),
          RetryPolicy: { MaximumEventAgeInSeconds: 60, MaximumRetryAttempts: 1 },
        },
      });
    }
  });

  it('the drain fits the Express limit: the task times out before the machine, and drains well before that', () => {
    expect(
      resource(machine).Properties.DefinitionString ?? resource(machine).Properties.DefinitionS3Location,
    ).toBeDefined();
    const fn = resource(logicalIdOf(s.template, 'AWS::Lambda::Function', 'TasksPitrArchive'));
    expect(fn.Properties.Timeout).toBe(TASKS.PitrArchive.timeoutSeconds);
    expect(TASKS.PitrArchive.timeoutSeconds).toBeLessThanOrEqual(300);
    expect(ARCHIVE_DRAIN_SECONDS).toBeLessThanOrEqual(TASKS.PitrArchive.timeoutSeconds - 60);
  });
});

describe('alarms', () => {
  const alarm = (collection: string, what: string) =>
    resource(logicalIdOf(s.template, 'AWS::CloudWatch::Alarm', `ChangeArchive${collection.replaceAll('-', '')}${what}`))
      .Properties;

  it('retained WAL over the configured threshold, slot lost, no segment for twice the interval; each notifies the topic', () => {
    const topic = logicalIdOf(s.template, 'AWS::SNS::Topic', 'MonitoringAlerts');
    const [first, second] = s.config.collections;
    const fn = logicalIdOf(s.template, 'AWS::Lambda::Function', 'TasksPitrArchive');
    const dims = (c: string) => [
      { Name: 'collection', Value: c },
      { Name: 'function', Value: { Ref: fn } },
      { Name: 'service', Value: 'tidemark' },
    ];
    expect(alarm(first!.name, 'RetainedWal')).toMatchObject({
      Namespace: 'Tidemark',
      MetricName: 'SlotRetainedBytes',
      Statistic: 'Maximum',
      Threshold: 10 * 1024 ** 3,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topic }],
    });
    expect(alarm(second!.name, 'RetainedWal').Threshold).toBe(2 * 1024 ** 3);
    expect(alarm(first!.name, 'RetainedWal').Dimensions).toEqual(dims(first!.name));
    expect(alarm(first!.name, 'SlotLost')).toMatchObject({
      MetricName: 'SlotLost',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topic }],
    });
    for (const [c, minutes] of [
      [first!.name, 1],
      [second!.name, 5],
    ] as const) {
      expect(alarm(c, 'NoSegment'), c).toMatchObject({
        MetricName: 'ArchiveSegments',
        Statistic: 'Sum',
        Period: 2 * minutes * 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        Dimensions: dims(c),
        AlarmActions: [{ Ref: topic }],
      });
    }
  });

  it('the archive task also has the Errors and Throttles alarms every task function has', () => {
    logicalIdOf(s.template, 'AWS::CloudWatch::Alarm', 'MonitoringPitrArchiveErrors');
    logicalIdOf(s.template, 'AWS::CloudWatch::Alarm', 'MonitoringPitrArchiveThrottles');
  });
});

describe('events', () => {
  it("ChangeArchiveGap of a collection starts the backup machine with that collection's scheduled input", () => {
    const backup = logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesBackup');
    for (const c of s.config.collections) {
      const source = s.config.sources.find((x) => x.id === c.source)!;
      const rule = resource(
        logicalIdOf(s.template, 'AWS::Events::Rule', `ChangeArchive${c.name.replaceAll('-', '')}Gap`),
      );
      expect(rule.Properties.EventPattern).toEqual({
        source: ['tidemark'],
        'detail-type': ['ChangeArchiveGap'],
        detail: { collection: [c.name] },
      });
      expect(rule.Properties.Targets).toEqual([
        expect.objectContaining({ Arn: { Ref: backup }, Input: JSON.stringify(backupRunInput(c, source)) }),
      ]);
    }
  });

  it('ChangeArchiveGap and ChangeArchiveFailed reach the alert topic', () => {
    const topic = logicalIdOf(s.template, 'AWS::SNS::Topic', 'MonitoringAlerts');
    const rule = resource(logicalIdOf(s.template, 'AWS::Events::Rule', 'ChangeArchiveAlerts'));
    expect(rule.Properties.EventPattern).toEqual({
      source: ['tidemark'],
      'detail-type': ['ChangeArchiveGap', 'ChangeArchiveFailed'],
    });
    expect(rule.Properties.Targets).toEqual([expect.objectContaining({ Arn: { Ref: topic } })]);
  });
});

describe('the archive task grants, from its access entry', () => {
  it('reads, lists and writes segments/ only, MACs and verifies documents, takes and releases its lease, reads source secrets', () => {
    const role = logicalIdOf(s.template, 'AWS::IAM::Role', 'TasksPitrArchiveRole');
    const bucket = logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket');
    const bySid = Object.fromEntries(
      statementsOfRole(s.template, role)
        .filter((st) => st.Sid)
        .map((st) => [st.Sid, st]),
    );
    const prefix = s.config.repository.prefix;
    expect(bySid.RepositoryRead).toMatchObject({
      Action: ['s3:GetObject'],
      Resource: [`<${bucket}.Arn>/${prefix}segments/*`],
    });
    expect(bySid.RepositoryWrite?.Resource).toEqual([`<${bucket}.Arn>/${prefix}segments/*`]);
    // Query: the catalog's last segment record, where the archive's listing starts.
    expect(new Set(bySid.Catalog?.Action)).toEqual(
      new Set(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem']),
    );
    expect(bySid.DocumentAuthentication?.Action).toEqual(['kms:GenerateMac', 'kms:VerifyMac']);
    expect(new Set(bySid.DatabaseCredentials?.Resource)).toEqual(new Set(s.config.sources.map((x) => x.secretArn)));
    expect(bySid.RepositoryDelete).toBeUndefined();
  });
});
