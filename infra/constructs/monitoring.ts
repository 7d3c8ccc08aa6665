// Who hears about failures: an SNS topic fed by the BackupFailed / RestoreFailed events and by
// CloudWatch alarms, plus a dashboard.
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** CloudWatch evaluates at most 7 days of periods (1 day when periods are under an hour). */
const MAX_EVALUATION_SECONDS = 7 * 86_400;
const MAX_PERIOD_SECONDS = 86_400;

/**
 * How to alarm when a schedule produced no successful backup for twice its interval:
 * `evaluationPeriods` periods of `periodSeconds`, all without a success. `undefined` when the
 * window is longer than CloudWatch can evaluate (schedules rarer than every 3.5 days).
 */
export function stalenessWindow(intervalMinutes: number): { periodSeconds: number; evaluationPeriods: number } | undefined {
  const windowSeconds = 2 * intervalMinutes * 60;
  if (windowSeconds > MAX_EVALUATION_SECONDS) return undefined;
  const evaluationPeriods = Math.ceil(windowSeconds / MAX_PERIOD_SECONDS);
  return { periodSeconds: Math.ceil(windowSeconds / evaluationPeriods / 60) * 60, evaluationPeriods };
}

export interface StalenessCheck {
  readonly collection: string;
  /** Longest gap between two scheduled runs. */
  readonly intervalMinutes: number;
}

export interface MonitoringProps {
  readonly eventBus: events.IEventBus;
  readonly backup: sfn.StateMachine;
  readonly restore: sfn.StateMachine;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly staleness: readonly StalenessCheck[];
  readonly alarmEmail?: string;
}

export class Monitoring extends Construct {
  public readonly alertKey: kms.Key;
  public readonly topic: sns.Topic;
  public readonly failureRule: events.Rule;
  public readonly failedExecutionAlarms: Readonly<Record<'backup' | 'restore', cloudwatch.Alarm>>;
  /** By collection name; collections too rare for CloudWatch to watch have none. */
  public readonly stalenessAlarms: Readonly<Record<string, cloudwatch.Alarm>>;
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    // Its own key: EventBridge and CloudWatch must be able to use it, and they have no
    // business with the key that protects backup data. (The SnsTopic rule target below adds
    // EventBridge's statement to this key policy itself.)
    this.alertKey = new kms.Key(this, 'AlertKey', { description: 'Tidemark alert notifications (SNS)', enableKeyRotation: true });
    this.alertKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsPublishEncrypted',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new sns.Topic(this, 'Alerts', { displayName: 'Tidemark alerts', masterKey: this.alertKey, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.failureRule = new events.Rule(this, 'Failures', {
      description: 'Tidemark BackupFailed and RestoreFailed events to the alert topic',
      eventBus: props.eventBus,
      eventPattern: { source: ['tidemark'], detailType: ['BackupFailed', 'RestoreFailed'] },
      targets: [new eventTargets.SnsTopic(this.topic)],
    });

    const notify = new actions.SnsAction(this.topic);
    const failed = (name: 'backup' | 'restore', machine: sfn.StateMachine) => {
      const alarm = machine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, `${name}Failed`, {
        alarmDescription: `A Tidemark ${name} execution failed (its ${name === 'backup' ? 'BackupFailed' : 'RestoreFailed'} event names the run and the error).`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(notify);
      return alarm;
    };
    this.failedExecutionAlarms = { backup: failed('backup', props.backup), restore: failed('restore', props.restore) };

    // "No committed backup within twice the schedule interval": every period of the window saw
    // no successful backup execution, and no data at all counts as none (BREACHING). The
    // metric is the state machine's, shared by all collections: with several collections, any
    // collection's success satisfies every alarm (docs/deploy.md, "Alarms").
    const stalenessAlarms: Record<string, cloudwatch.Alarm> = {};
    for (const check of props.staleness) {
      const window = stalenessWindow(check.intervalMinutes);
      if (!window) continue;
      const alarm = props.backup.metricSucceeded({ period: Duration.seconds(window.periodSeconds), statistic: 'Sum' }).createAlarm(this, `${check.collection}Stale`, {
        alarmDescription: `No successful Tidemark backup for ${(2 * check.intervalMinutes) / 60} h, twice the schedule interval of collection ${check.collection}.`,
        threshold: 1,
        evaluationPeriods: window.evaluationPeriods,
        datapointsToAlarm: window.evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
      alarm.addAlarmAction(notify);
      stalenessAlarms[check.collection] = alarm;
    }
    this.stalenessAlarms = stalenessAlarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    const executions = (title: string, machine: sfn.StateMachine) =>
      new cloudwatch.GraphWidget({
        title,
        left: [machine.metricStarted(), machine.metricSucceeded(), machine.metricFailed()].map((m) => m.with({ period: Duration.hours(1), statistic: 'Sum' })),
        width: 12,
      });
    const fn = (name: string) => props.functions[name]!;
    this.dashboard.addWidgets(executions('Backup executions', props.backup), executions('Restore executions', props.restore));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Batch duration (max, ms)',
        left: ['BackupExportBatch', 'RestoreLoadBatch', 'RestoreVerifyBatch'].map((n) => fn(n).metricDuration({ statistic: 'Maximum', label: n })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Task errors',
        left: Object.entries(props.functions).map(([n, f]) => f.metricErrors({ statistic: 'Sum', label: n })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...Object.values(this.failedExecutionAlarms), ...Object.values(stalenessAlarms)], width: 24 }),
    );
  }
}
