// Schedules derived from the configuration, the alarms and events that report on them, and the
// outputs the cloud-mode CLI reads.
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLAN_OPTIONS } from '../../src/core/backup/plan.ts';
import { STACK_OUTPUTS } from '../../infra/stack.ts';
import { logicalIdOf, render, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let backup: string;
let restore: string;
let topic: string;
let dlq: string;
let group: string;
const resource = (id: string) => s.template.toJSON().Resources[id];

beforeAll(() => {
  s = synthesize();
  backup = logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesBackup');
  restore = logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesRestore');
  topic = logicalIdOf(s.template, 'AWS::SNS::Topic', 'MonitoringAlerts');
  dlq = logicalIdOf(s.template, 'AWS::SQS::Queue', 'SchedulesDeadLetters');
  group = logicalIdOf(s.template, 'AWS::Scheduler::ScheduleGroup', 'SchedulesGroup');
});

describe('backup schedules', () => {
  it('one per collection, with its expression and time zone, starting the backup machine', () => {
    const backupSchedules = Object.keys(s.template.findResources('AWS::Scheduler::Schedule')).filter((id) =>
      id.startsWith('Schedules'),
    );
    expect(backupSchedules).toHaveLength(s.config.collections.length);
    for (const c of s.config.collections) {
      const schedule = resource(
        logicalIdOf(s.template, 'AWS::Scheduler::Schedule', `Schedules${c.name.replaceAll('-', '')}`),
      );
      expect(schedule.Properties, c.name).toMatchObject({
        ScheduleExpression: c.schedule.expression,
        ScheduleExpressionTimezone: c.schedule.timeZone,
        State: 'ENABLED',
        FlexibleTimeWindow: { Mode: 'OFF' },
        GroupName: resource(group).Properties.Name,
        Target: {
          Arn: { Ref: backup },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        },
      });
    }
  });

  it('dead-letter into one queue, encrypted (SSE-SQS), TLS-only, kept 14 days', () => {
    expect(resource(dlq).Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it("send the collection's run input, shaped like `tidemark backup`'s, with the secret and the 840 s window", () => {
    const [nightly, sixHourly] = s.config.collections;
    const input = (name: string) =>
      JSON.parse(
        resource(logicalIdOf(s.template, 'AWS::Scheduler::Schedule', `Schedules${name.replaceAll('-', '')}`)).Properties
          .Target.Input,
      );
    expect(input(nightly!.name)).toEqual({
      source: {
        credentials: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tidemark/orders-backup-Ab12Cd',
        database: 'orders',
      },
      collection: 'orders-nightly',
      collectionDefinition: {
        schedule: 'cron(30 2 * * ? *)',
        retention: { keepLast: 7, keepDaily: 14, keepMonthly: 12 },
      },
      options: {
        workers: 8,
        snapshotHoldSeconds: 840,
        plan: { chunkBytes: DEFAULT_PLAN_OPTIONS.chunkBytes, rangeBytes: DEFAULT_PLAN_OPTIONS.rangeBytes },
      },
    });
    expect(input(sixHourly!.name)).toMatchObject({
      source: { credentials: s.config.sources[1]!.secretArn, database: 'billing' },
      collection: 'billing-6h',
      options: { workers: 4 },
    });
  });

  it("start executions through one role that may start only the backup machine and dead-letter to its queue, assumed only by this account's Scheduler", () => {
    const backupSchedules = Object.entries(s.template.findResources('AWS::Scheduler::Schedule')).filter(([id]) =>
      id.startsWith('Schedules'),
    );
    const roles = new Set(backupSchedules.map(([, x]) => render(x.Properties.Target.RoleArn)));
    expect(roles.size).toBe(1);
    const role = [...roles][0]!.slice(1, -5);
    expect(statementsOfRole(s.template, role)).toEqual([
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: [`<${backup}>`] },
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [`<${dlq}.Arn>`] },
    ]);
    expect(resource(role).Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: expect.objectContaining({ 'aws:SourceAccount': '123456789012' }) },
      }),
    ]);
  });
});

describe('alerts', () => {
  it('go to an SNS topic encrypted with its own rotating key, TLS-only, mailed to the configured address', () => {
    const key = logicalIdOf(s.template, 'AWS::KMS::Key', 'MonitoringAlertKey');
    expect(resource(topic).Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
    expect(resource(key).Properties.EnableKeyRotation).toBe(true);
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'AllowPublishThroughSSLOnly',
            Effect: 'Deny',
            Principal: '*',
            Action: 'sns:Publish',
            Resource: { Ref: topic },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ]),
      },
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: s.config.alarmEmail,
      TopicArn: { Ref: topic },
    });
  });

  it('the alert key lets CloudWatch (this account) and EventBridge encrypt messages, nothing more', () => {
    const statements = resource(logicalIdOf(s.template, 'AWS::KMS::Key', 'MonitoringAlertKey')).Properties.KeyPolicy
      .Statement;
    expect(statements).toEqual([
      // CDK's default: IAM policies of this account decide (no IAM policy here names the key).
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'AlarmsPublishEncrypted',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
      },
      // SNS uses the key only for a publish the topic policy (bound to the rules) allowed.
      {
        Sid: 'RulesPublishEncrypted',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
      },
    ]);
  });

  it("the topic admits CloudWatch for this stack's alarms and EventBridge for this stack's rules only (aws:SourceArn)", () => {
    const policy = Object.values(s.template.findResources('AWS::SNS::TopicPolicy')).find(
      (x) => render(x.Properties.Topics[0]) === `<${topic}>`,
    )!;
    const allows = (policy.Properties.PolicyDocument.Statement as any[]).filter((x) => x.Effect === 'Allow');
    const byId = (a: any, b: any) => a['Fn::GetAtt'][0].localeCompare(b['Fn::GetAtt'][0]);
    const rules = [
      'MonitoringFailures',
      'ChangeArchiveAlerts',
      'TamperAlertsBucketSettings',
      'TamperAlertsVersionDeletions',
      'TamperAlertsKeyChanges',
    ].map((id) => ({ 'Fn::GetAtt': [logicalIdOf(s.template, 'AWS::Events::Rule', id), 'Arn'] }));
    expect(allows).toEqual([
      {
        Sid: 'AlarmsPublish',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topic },
        Condition: {
          ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:Tidemark-*' },
          StringEquals: { 'aws:SourceAccount': '123456789012' },
        },
      },
      {
        Sid: 'RulesPublish',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: topic },
        Condition: { ArnEquals: { 'aws:SourceArn': rules } },
      },
    ]);
    // AND every rule that targets the topic is one of those
    const targeting = Object.entries(s.template.findResources('AWS::Events::Rule')).filter(([, r]) =>
      (r.Properties.Targets ?? []).some((t: any) => render(t.Arn) === `<${topic}>`),
    );
    expect(targeting.map(([id]) => ({ 'Fn::GetAtt': [id, 'Arn'] })).sort(byId)).toEqual([...rules].sort(byId));
  });

  it('BackupFailed and RestoreFailed events on the Tidemark bus reach the topic', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(s.template, 'AWS::Events::EventBus', 'StateMachinesEvents') },
      EventPattern: { source: ['tidemark'], 'detail-type': ['BackupFailed', 'RestoreFailed'] },
      Targets: [Match.objectLike({ Arn: { Ref: topic } })],
    });
  });

  it.each([['Backup'], ['Restore']])('a failed %s execution raises an alarm within 5 minutes', (name) => {
    const machine = name === 'Backup' ? backup : restore;
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: machine } }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topic }],
    });
  });

  it.each([
    ['ordersnightly', 'orders-nightly', 86_400, 2],
    ['billing6h', 'billing-6h', 43_200, 1],
  ])(
    'collection %s alarms when none of its backups committed for twice its interval (%s: %i s × %i)',
    (id, collection, period, periods) => {
      expect(
        resource(logicalIdOf(s.template, 'AWS::CloudWatch::Alarm', `Monitoring${id}Stale`)).Properties,
      ).toMatchObject({
        Namespace: 'Tidemark/Tidemark',
        MetricName: 'BackupsCommitted',
        Dimensions: [{ Name: 'Collection', Value: collection }],
        Statistic: 'Sum',
        Period: period,
        EvaluationPeriods: periods,
        DatapointsToAlarm: periods,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        AlarmActions: [{ Ref: topic }],
      });
    },
  );

  it("two collections get two staleness alarms on two different metrics: one collection's success cannot silence the other's", () => {
    // GIVEN the example's two collections / WHEN synthesized
    const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm'));
    const stale = alarms.filter((a) => a.Properties.MetricName === 'BackupsCommitted');
    // THEN two alarms, each on the metric of its own collection
    expect(stale).toHaveLength(2);
    expect(
      new Set(
        stale.map((a) => JSON.stringify([a.Properties.Namespace, a.Properties.MetricName, a.Properties.Dimensions])),
      ).size,
    ).toBe(2);
    // AND no alarm watches the state machine's global success count any more
    expect(alarms.filter((a) => a.Properties.MetricName === 'ExecutionsSucceeded')).toEqual([]);
  });

  it('the per-collection metric counts BackupCommitted events by detail.collection: bus rule → log group (admitting only that rule) → metric filter', () => {
    const log = logicalIdOf(s.template, 'AWS::Logs::LogGroup', 'MonitoringCommitsLog');
    const rule = logicalIdOf(s.template, 'AWS::Events::Rule', 'MonitoringCommitsToLog');
    expect(resource(rule).Properties).toMatchObject({
      EventBusName: { Ref: logicalIdOf(s.template, 'AWS::Events::EventBus', 'StateMachinesEvents') },
      EventPattern: { source: ['tidemark'], 'detail-type': ['BackupCommitted'] },
    });
    expect(render(resource(rule).Properties.Targets[0].Arn)).toBe(
      `arn:aws:logs:eu-west-1:123456789012:log-group:<${log}>`,
    );
    s.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: log },
      FilterPattern: '{ $.detail.collection = "*" }',
      MetricTransformations: [
        {
          MetricNamespace: 'Tidemark/Tidemark',
          MetricName: 'BackupsCommitted',
          MetricValue: '1',
          Dimensions: [{ Key: 'Collection', Value: '$.detail.collection' }],
        },
      ],
    });
    const document = JSON.stringify(
      Object.values(s.template.findResources('AWS::Logs::ResourcePolicy'))[0]!.Properties.PolicyDocument,
    );
    for (const part of [
      'events.amazonaws.com',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'aws:SourceArn',
      rule,
      log,
    ])
      expect(document).toContain(part);
    expect(resource(log).Properties.RetentionInDays).toBe(365);
  });

  it("a weekly collection gets no staleness alarm (14 days is past CloudWatch's limit) and a synth warning", () => {
    const config = structuredClone(s.config);
    config.collections[0]!.schedule.expression = 'cron(0 3 ? * SUN *)';
    const weekly = synthesize(config);
    expect(
      Object.keys(weekly.template.findResources('AWS::CloudWatch::Alarm')).filter((id) => /Stale[0-9A-F]{8}$/.test(id)),
    ).toEqual([expect.stringMatching(/^Monitoringbilling6hStale/)]);
    expect(Object.keys(weekly.stack.monitoring.stalenessAlarms)).toEqual(['billing-6h']);
    Annotations.fromStack(weekly.stack).hasWarning(
      '/Tidemark',
      Match.stringLikeRegexp('collections: orders-nightly runs less often than every 3.5 days'),
    );
  });

  it('a dashboard shows executions, batch durations, task errors and the alarms', () => {
    const body = JSON.stringify(
      resource(logicalIdOf(s.template, 'AWS::CloudWatch::Dashboard', 'MonitoringDashboard')).Properties.DashboardBody,
    );
    for (const title of [
      'Backup executions',
      'Restore executions',
      'Batch duration (max, ms)',
      'Task errors',
      'Alarms',
    ])
      expect(body).toContain(title);
  });
});

describe('outputs', () => {
  it('are the keys the cloud-mode CLI reads', () => {
    expect([...STACK_OUTPUTS]).toEqual([
      'BackupStateMachineArn',
      'RestoreStateMachineArn',
      'CatalogTableName',
      'RepositoryBucketName',
      'EventBusName',
    ]);
    s.template.hasOutput('BackupStateMachineArn', { Value: { Ref: backup } });
    s.template.hasOutput('RestoreStateMachineArn', { Value: { Ref: restore } });
    s.template.hasOutput('CatalogTableName', {
      Value: { Ref: logicalIdOf(s.template, 'AWS::DynamoDB::Table', 'CatalogTable') },
    });
    s.template.hasOutput('RepositoryBucketName', {
      Value: { Ref: logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket') },
    });
    s.template.hasOutput('EventBusName', {
      Value: { Ref: logicalIdOf(s.template, 'AWS::Events::EventBus', 'StateMachinesEvents') },
    });
    // No prefix configured: no RepositoryPrefix output (the bucket root).
    expect(s.template.findOutputs('RepositoryPrefix')).toEqual({});
  });
});
