// The alarms an SRE expects (issue 14, item 7) and the tamper alerts (item 2): executions that
// time out or are aborted, task errors and throttles, schedules that cannot start a backup, and
// any attempt on the repository's protection — each to the alert topic.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEntries } from '../../functions/index.ts';
import { EXPECTED_ERRORS } from '../../infra/constructs/monitoring.ts';
import { TAMPER_EVENTS } from '../../infra/constructs/tamper-alerts.ts';
import { logicalIdOf, render, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let topic: string;
const resource = (id: string) => s.template.toJSON().Resources[id];
const alarm = (id: string) => resource(logicalIdOf(s.template, 'AWS::CloudWatch::Alarm', `Monitoring${id}`)).Properties;
/** "≥ 1 in 5 minutes, no data is fine, to the topic". */
const atLeastOnce = () => ({
  Period: 300,
  EvaluationPeriods: 1,
  Threshold: 1,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  TreatMissingData: 'notBreaching',
  AlarmActions: [{ Ref: topic }],
});

beforeAll(() => {
  s = synthesize();
  topic = logicalIdOf(s.template, 'AWS::SNS::Topic', 'MonitoringAlerts');
});

describe('execution alarms', () => {
  it.each([
    ['backup', 'Backup', 'Failed', 'ExecutionsFailed'],
    ['backup', 'Backup', 'TimedOut', 'ExecutionsTimedOut'],
    ['backup', 'Backup', 'Aborted', 'ExecutionsAborted'],
    ['restore', 'Restore', 'Failed', 'ExecutionsFailed'],
    ['restore', 'Restore', 'TimedOut', 'ExecutionsTimedOut'],
    ['restore', 'Restore', 'Aborted', 'ExecutionsAborted'],
    ['maintenance', 'Maintenance', 'Failed', 'ExecutionsFailed'],
    ['maintenance', 'Maintenance', 'TimedOut', 'ExecutionsTimedOut'],
    ['maintenance', 'Maintenance', 'Aborted', 'ExecutionsAborted'],
  ])('%s: %s executions (%s) raise an alarm within 5 minutes', (name, id, what, metric) => {
    expect(alarm(`${name}${what}`)).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: metric,
      Dimensions: [
        {
          Name: 'StateMachineArn',
          Value: { Ref: logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', `StateMachines${id}`) },
        },
      ],
      Statistic: 'Sum',
      ...atLeastOnce(),
    });
  });
});

describe('task function alarms', () => {
  it('every task function alarms on throttles, and on errors unless errors are its protocol', () => {
    for (const name of Object.keys(functionEntries)) {
      const fn = {
        Name: 'FunctionName',
        Value: { Ref: logicalIdOf(s.template, 'AWS::Lambda::Function', `Tasks${name}`) },
      };
      expect(alarm(`${name}Throttles`), name).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: [fn],
        Statistic: 'Sum',
        ...atLeastOnce(),
      });
      if (EXPECTED_ERRORS[name]) continue;
      expect(alarm(`${name}Errors`), name).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [fn],
        Statistic: 'Sum',
        ...atLeastOnce(),
      });
    }
  });

  it('the snapshot poller has no errors alarm: SnapshotNotReadyError is how it says "not yet", and it is retried', () => {
    expect(Object.keys(EXPECTED_ERRORS)).toEqual(['BackupAwaitSnapshot']);
    expect(
      Object.keys(s.template.findResources('AWS::CloudWatch::Alarm')).filter((id) =>
        id.startsWith('MonitoringBackupAwaitSnapshotErrors'),
      ),
    ).toEqual([]);
    expect(EXPECTED_ERRORS.BackupAwaitSnapshot).toMatch(/retries/);
  });
});

describe('schedule alarms', () => {
  it.each([
    ['ScheduleTargetErrors', 'TargetErrorCount'],
    ['ScheduleDropped', 'InvocationDroppedCount'],
  ])("%s watches %s of the backup schedules' own group", (id, metric) => {
    const group = resource(logicalIdOf(s.template, 'AWS::Scheduler::ScheduleGroup', 'SchedulesGroup')).Properties.Name;
    expect(alarm(id)).toMatchObject({
      Namespace: 'AWS/Scheduler',
      MetricName: metric,
      Dimensions: [{ Name: 'ScheduleGroup', Value: group }],
      Statistic: 'Sum',
      ...atLeastOnce(),
    });
  });

  it("a message in the schedules' dead-letter queue raises an alarm", () => {
    const queue = logicalIdOf(s.template, 'AWS::SQS::Queue', 'SchedulesDeadLetters');
    expect(alarm('ScheduleDeadLetters')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Statistic: 'Maximum',
      ...atLeastOnce(),
    });
  });
});

describe('tamper alerts (CloudTrail through the default bus)', () => {
  const rule = (id: string) => resource(logicalIdOf(s.template, 'AWS::Events::Rule', `TamperAlerts${id}`)).Properties;
  const bucket = () => logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket');
  const key = () => logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryKey');
  const macKey = () => logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryMacKey');

  it("an attempt on the bucket's lifecycle, versioning, policy, Object Lock or encryption reaches the topic", () => {
    const r = rule('BucketSettings');
    expect(r.EventBusName).toBeUndefined();
    expect(r.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['s3.amazonaws.com'],
        eventName: [...TAMPER_EVENTS.bucket],
        requestParameters: { bucketName: [{ Ref: bucket() }] },
      },
    });
    expect(r.Targets).toEqual([{ Arn: { Ref: topic }, Id: 'Target0' }]);
  });

  it('a deletion of an object version (an S3 data event) reaches the topic', () => {
    const r = rule('VersionDeletions');
    expect(r.EventPattern.detail).toEqual({
      eventSource: ['s3.amazonaws.com'],
      eventName: ['DeleteObject'],
      requestParameters: { bucketName: [{ Ref: bucket() }], versionId: [{ exists: true }] },
    });
    expect(r.Targets).toEqual([{ Arn: { Ref: topic }, Id: 'Target0' }]);
  });

  it('an attempt to disable, delete or re-policy the data key or the repository (MAC) key, by id or ARN, reaches the topic', () => {
    const r = rule('KeyChanges');
    expect(r.EventPattern).toEqual({
      source: ['aws.kms'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['ScheduleKeyDeletion', 'DisableKey', 'PutKeyPolicy'],
        requestParameters: {
          keyId: [
            { Ref: key() },
            { 'Fn::GetAtt': [key(), 'Arn'] },
            { Ref: macKey() },
            { 'Fn::GetAtt': [macKey(), 'Arn'] },
          ],
        },
      },
    });
    expect(render(r.Targets[0].Arn)).toBe(`<${topic}>`);
  });
});

describe('the snapshot hold', () => {
  it('GIVEN the holder function, WHEN a hold lasts past 80 % of the 840 s window, THEN an alarm tells the topic to raise workers', () => {
    const t = s.template;
    const holder = logicalIdOf(t, 'AWS::Lambda::Function', 'TasksBackupHoldSnapshot');
    const topicId = logicalIdOf(t, 'AWS::SNS::Topic', 'MonitoringAlerts');
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Duration',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: holder } }],
      Statistic: 'Maximum',
      Threshold: 0.8 * 840 * 1000,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topicId }],
      AlarmDescription: Match.stringLikeRegexp('Raise the collection'),
    });
  });
});
