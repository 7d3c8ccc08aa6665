// Who hears about failures: an SNS topic fed by the BackupFailed / RestoreFailed events, by
// CloudWatch alarms (executions, task functions, schedules, staleness per collection) and by
// any other rule given to publishEventsFrom(), plus a dashboard.
import { ArnFormat, Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { LAMBDA_SNAPSHOT_HOLD_SECONDS } from '../../src/core/backup/hold-snapshot.ts';
import { CommitMetrics } from './commit-metrics.ts';
import type { BackupSchedules } from './backup-schedules.ts';

/** CloudWatch evaluates at most 7 days of periods (1 day when periods are under an hour). */
const MAX_EVALUATION_SECONDS = 7 * 86_400;
const MAX_PERIOD_SECONDS = 86_400;

/**
 * Task functions whose errors are part of their protocol, so an Errors alarm would fire on
 * every run. A real failure of theirs ends the execution, which the failed-execution alarm reports.
 */
export const EXPECTED_ERRORS: Readonly<Record<string, string>> = {
  BackupAwaitSnapshot:
    'throws SnapshotNotReadyError until the holder has written the snapshot; the ASL retries it up to 60 times',
};

/**
 * How to alarm when a schedule produced no successful backup for twice its interval:
 * `evaluationPeriods` periods of `periodSeconds`, all without a success. `undefined` when the
 * window is longer than CloudWatch can evaluate (schedules rarer than every 3.5 days).
 */
export function stalenessWindow(
  intervalMinutes: number,
): { periodSeconds: number; evaluationPeriods: number } | undefined {
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
  /** Each state machine by name (`backup`, `restore`, …): alarms on failed, timed-out and aborted executions. */
  readonly machines: Readonly<Record<string, sfn.StateMachine>>;
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  readonly schedules: BackupSchedules;
  readonly staleness: readonly StalenessCheck[];
  readonly alarmEmail?: string;
}

export class Monitoring extends Construct {
  public readonly alertKey: kms.Key;
  public readonly topic: sns.Topic;
  public readonly failureRule: events.Rule;
  /** By machine name, then `failed` / `timedOut` / `aborted`. */
  public readonly executionAlarms: Readonly<
    Record<string, Readonly<Record<'failed' | 'timedOut' | 'aborted', cloudwatch.Alarm>>>
  >;
  /** By function name, then `errors` / `throttles` (no `errors` for EXPECTED_ERRORS functions). */
  public readonly functionAlarms: Readonly<Record<string, { errors?: cloudwatch.Alarm; throttles: cloudwatch.Alarm }>>;
  public readonly scheduleAlarms: Readonly<Record<'targetErrors' | 'dropped' | 'deadLetters', cloudwatch.Alarm>>;
  /** The snapshot holder ran for more than SNAPSHOT_HOLD_WARNING of its window: exports near the limit. */
  public readonly snapshotHoldAlarm: cloudwatch.Alarm;
  /** Committed backups per collection (the staleness alarms' metrics). */
  public readonly commits: CommitMetrics;
  /** By collection name; collections too rare for CloudWatch to watch have none. */
  public readonly stalenessAlarms: Readonly<Record<string, cloudwatch.Alarm>>;
  public readonly dashboard: cloudwatch.Dashboard;
  private readonly publishingRules: events.IRule[] = [];
  private readonly notify: actions.SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // Its own key: EventBridge and CloudWatch must be able to use it, and they have no
    // business with the key that protects backup data.
    this.alertKey = new kms.Key(this, 'AlertKey', {
      description: 'Tidemark alert notifications (SNS)',
      enableKeyRotation: true,
    });
    this.topic = new sns.Topic(this, 'Alerts', {
      displayName: 'Tidemark alerts',
      masterKey: this.alertKey,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    this.notify = new actions.SnsAction(this.topic);

    // Services publish only for this stack's alarms and rules (aws:SourceArn): no other
    // account's or stack's alarm or rule can use the topic or its key (confused deputy).
    const alarmArns = stack.formatArn({
      service: 'cloudwatch',
      resource: 'alarm',
      resourceName: `${stack.stackName}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const ruleArns = Lazy.list({ produce: () => this.publishingRules.map((r) => r.ruleArn) });
    const fromAlarms = {
      ArnLike: { 'aws:SourceArn': alarmArns },
      StringEquals: { 'aws:SourceAccount': stack.account },
    };
    const fromRules = { ArnEquals: { 'aws:SourceArn': ruleArns } };
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    const eventsService = new iam.ServicePrincipal('events.amazonaws.com');
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsPublish',
        principals: [cloudwatchService],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromAlarms,
      }),
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RulesPublish',
        principals: [eventsService],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromRules,
      }),
    );
    // The key only serves this topic, and SNS uses it only for a publish the topic policy
    // allowed: the topic policy is where the binding lives. (A key statement naming the rules
    // would make the key depend on rules that depend on the topic, which depends on the key.)
    const encrypt = ['kms:Decrypt', 'kms:GenerateDataKey'];
    this.alertKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsPublishEncrypted',
        principals: [cloudwatchService],
        actions: encrypt,
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.alertKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RulesPublishEncrypted',
        principals: [eventsService],
        actions: encrypt,
        resources: ['*'],
      }),
    );

    this.failureRule = new events.Rule(this, 'Failures', {
      description: 'Tidemark BackupFailed and RestoreFailed events to the alert topic',
      eventBus: props.eventBus,
      eventPattern: { source: ['tidemark'], detailType: ['BackupFailed', 'RestoreFailed'] },
    });
    this.publishEventsFrom(this.failureRule);

    const period = Duration.minutes(5);
    const executionAlarms: Record<string, Record<'failed' | 'timedOut' | 'aborted', cloudwatch.Alarm>> = {};
    for (const [name, machine] of Object.entries(props.machines)) {
      const what = name === 'backup' ? 'BackupFailed' : name === 'restore' ? 'RestoreFailed' : undefined;
      executionAlarms[name] = {
        failed: this.atLeastOnce(
          `${name}Failed`,
          machine.metricFailed({ period }),
          `A Tidemark ${name} execution failed${what ? ` (its ${what} event names the run and the error)` : ''}.`,
        ),
        timedOut: this.atLeastOnce(
          `${name}TimedOut`,
          machine.metricTimedOut({ period }),
          `A Tidemark ${name} execution timed out: it published no failure event. Open the execution in the Step Functions console.`,
        ),
        aborted: this.atLeastOnce(
          `${name}Aborted`,
          machine.metricAborted({ period }),
          `A Tidemark ${name} execution was aborted (stopped by someone): it published no failure event.`,
        ),
      };
    }
    this.executionAlarms = executionAlarms;

    const functionAlarms: Record<string, { errors?: cloudwatch.Alarm; throttles: cloudwatch.Alarm }> = {};
    for (const [name, fn] of Object.entries(props.functions)) {
      functionAlarms[name] = {
        ...(EXPECTED_ERRORS[name]
          ? {}
          : {
              errors: this.atLeastOnce(
                `${name}Errors`,
                fn.metricErrors({ period }),
                `The Tidemark ${name} task failed (its state may have retried it): see its log group.`,
              ),
            }),
        throttles: this.atLeastOnce(
          `${name}Throttles`,
          fn.metricThrottles({ period }),
          `Lambda throttled the Tidemark ${name} task: the account's or the function's concurrency is exhausted.`,
        ),
      };
    }
    this.functionAlarms = functionAlarms;

    const { group, deadLetterQueue } = props.schedules;
    this.scheduleAlarms = {
      targetErrors: this.atLeastOnce(
        'ScheduleTargetErrors',
        group.metricTargetErrors({ period }),
        'EventBridge Scheduler could not start a Tidemark backup (StartExecution failed); it retries, then sends the event to the dead-letter queue.',
      ),
      dropped: this.atLeastOnce(
        'ScheduleDropped',
        group.metricDropped({ period }),
        'EventBridge Scheduler dropped a Tidemark backup start (retries or its hour used up): that backup did not run.',
      ),
      deadLetters: this.atLeastOnce(
        'ScheduleDeadLetters',
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        "A Tidemark backup start is in the schedules' dead-letter queue: that backup did not run; the message attributes say why.",
      ),
    };

    // The holder lives as long as the export: a hold past 80 % of its window is the last warning
    // before backups fail with SnapshotExpiredError (add workers, or split the collection).
    this.snapshotHoldAlarm = taskFunction(props.functions, 'BackupHoldSnapshot')
      .metricDuration({ period, statistic: 'Maximum' })
      .createAlarm(this, 'SnapshotHoldNearWindow', {
        alarmDescription: `A Tidemark backup held its snapshot for more than ${Math.round(SNAPSHOT_HOLD_WARNING * 100)} % of the ${LAMBDA_SNAPSHOT_HOLD_SECONDS} s export window: its export is close to failing with SnapshotExpiredError. Raise the collection's workers.`,
        threshold: SNAPSHOT_HOLD_WARNING * LAMBDA_SNAPSHOT_HOLD_SECONDS * 1000,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.snapshotHoldAlarm.addAlarmAction(this.notify);

    // "No committed backup of this collection within twice its schedule interval": every period
    // of the window saw none, and no data at all counts as none (BREACHING).
    this.commits = new CommitMetrics(this, 'Commits', { eventBus: props.eventBus });
    const stalenessAlarms: Record<string, cloudwatch.Alarm> = {};
    for (const check of props.staleness) {
      const window = stalenessWindow(check.intervalMinutes);
      if (!window) continue;
      const alarm = this.commits
        .committed(check.collection, Duration.seconds(window.periodSeconds))
        .createAlarm(this, `${check.collection}Stale`, {
          alarmDescription: `No committed Tidemark backup of collection ${check.collection} for ${(2 * check.intervalMinutes) / 60} h, twice its schedule interval.`,
          threshold: 1,
          evaluationPeriods: window.evaluationPeriods,
          datapointsToAlarm: window.evaluationPeriods,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        });
      alarm.addAlarmAction(this.notify);
      stalenessAlarms[check.collection] = alarm;
    }
    this.stalenessAlarms = stalenessAlarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    const executions = (name: string, machine: sfn.StateMachine) =>
      new cloudwatch.GraphWidget({
        title: `${name[0]!.toUpperCase()}${name.slice(1)} executions`,
        left: [machine.metricStarted(), machine.metricSucceeded(), machine.metricFailed()].map((m) =>
          m.with({ period: Duration.hours(1), statistic: 'Sum' }),
        ),
        width: 12,
      });
    const fn = (name: string) => props.functions[name]!;
    this.dashboard.addWidgets(...Object.entries(props.machines).map(([name, machine]) => executions(name, machine)));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Batch duration (max, ms)',
        left: ['BackupExportBatch', 'RestoreLoadBatch', 'RestoreVerifyBatch'].map((n) =>
          fn(n).metricDuration({ statistic: 'Maximum', label: n }),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Task errors',
        left: Object.entries(props.functions).map(([n, f]) => f.metricErrors({ statistic: 'Sum', label: n })),
        width: 12,
      }),
    );
    const alarms = [
      ...Object.values(executionAlarms).flatMap((a) => Object.values(a)),
      ...Object.values(this.scheduleAlarms),
      this.snapshotHoldAlarm,
      ...Object.values(stalenessAlarms),
    ];
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  }

  /** Sends the rule's events to the alert topic; the topic and its key admit this rule by ARN. */
  publishEventsFrom(rule: events.Rule): void {
    rule.addTarget({ bind: () => ({ arn: this.topic.topicArn }) });
    this.publishingRules.push(rule);
  }

  /** An alarm to the topic when the metric's Sum is ≥ 1 in a period; no data is fine. */
  private atLeastOnce(id: string, metric: cloudwatch.Metric, description: string): cloudwatch.Alarm {
    const alarm = metric.with({ statistic: metric.statistic === 'Maximum' ? 'Maximum' : 'Sum' }).createAlarm(this, id, {
      alarmDescription: description,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.notify);
    return alarm;
  }
}

/** Share of the export window past which a snapshot hold alarms. */
export const SNAPSHOT_HOLD_WARNING = 0.8;

function taskFunction(functions: Readonly<Record<string, lambda.IFunction>>, name: string): lambda.IFunction {
  const f = functions[name];
  if (!f) throw new Error(`Monitoring needs the ${name} function, which functions/index.ts does not define.`);
  return f;
}
