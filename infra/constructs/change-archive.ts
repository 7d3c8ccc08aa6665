// Point-in-time recovery in AWS (issue 13, item 6): per PITR collection, an EventBridge Scheduler
// schedule starts the archive state machine (state-machines/archive.asl.json) every
// `pitr.intervalMinutes`; its PitrArchive task drains the slot into segments. Alarms watch the
// figures the task publishes (functions/pitr-archive.ts): the slot's retained WAL, a lost slot,
// no segment for twice the interval. A ChangeArchiveGap event starts the new chain's base backup
// and, like ChangeArchiveFailed, reaches the alert topic.
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { archiveRunInput as buildArchiveRunInput } from '../../src/core/pipelines/archive-input.ts';
import type { CollectionConfig, SourceConfig } from '../config.ts';
import type { PitrConfig } from '../pitr-config.ts';
import { backupRunInput } from './backup-schedules.ts';
import type { Monitoring } from './monitoring.ts';

/** The namespace functions/pitr-archive.ts publishes in; its `function` dimension tells stacks apart. */
export const ARCHIVE_METRICS_NAMESPACE = 'Tidemark';

export const ARCHIVE_ASL_PATH = fileURLToPath(new URL('../../state-machines/archive.asl.json', import.meta.url));

/** Execution input of one scheduled archive run of `collection`. */
export function archiveRunInput(collection: CollectionConfig, source: SourceConfig) {
  return buildArchiveRunInput({
    collection: collection.name,
    source: { credentials: source.secretArn, database: source.database },
  });
}

export type PitrCollection = CollectionConfig & { pitr: PitrConfig };

export function pitrCollections(collections: readonly CollectionConfig[]): PitrCollection[] {
  return collections.filter((c): c is PitrCollection => c.pitr !== undefined);
}

export interface ChangeArchiveProps {
  readonly collections: readonly CollectionConfig[];
  readonly sources: readonly SourceConfig[];
  /** The construct that holds the other machines: the archive machine is its `Archive`. */
  readonly machines: Construct;
  readonly archiveFunction: lambda.IFunction;
  readonly eventBus: events.IEventBus;
  /** Started with the collection's scheduled-backup input when a gap begins a new chain. */
  readonly backupStateMachine: sfn.IStateMachine;
  /** The backup schedules' group and dead-letter queue: the schedule alarms watch both. */
  readonly group: scheduler.IScheduleGroup;
  readonly deadLetterQueue: sqs.IQueue;
  readonly monitoring: Monitoring;
  readonly logRetention?: logs.RetentionDays;
}

export interface ArchiveAlarms {
  readonly retainedWal: cloudwatch.Alarm;
  readonly slotLost: cloudwatch.Alarm;
  readonly noSegment: cloudwatch.Alarm;
}

export class ChangeArchive extends Construct {
  public readonly machine: sfn.StateMachine;
  /** By collection name. */
  public readonly schedules: Readonly<Record<string, scheduler.Schedule>>;
  public readonly alarms: Readonly<Record<string, ArchiveAlarms>>;
  /** By collection name: ChangeArchiveGap → the collection's base backup. */
  public readonly baseBackupRules: Readonly<Record<string, events.Rule>>;
  /** ChangeArchiveGap and ChangeArchiveFailed → the alert topic. */
  public readonly alertRule: events.Rule;

  constructor(scope: Construct, id: string, props: ChangeArchiveProps) {
    super(scope, id);
    this.machine = archiveMachine(props);
    const collections = pitrCollections(props.collections);
    const schedules: Record<string, scheduler.Schedule> = {};
    const alarms: Record<string, ArchiveAlarms> = {};
    const baseBackupRules: Record<string, events.Rule> = {};
    const notify = new actions.SnsAction(props.monitoring.topic);
    for (const collection of collections) {
      const source = props.sources.find((s) => s.id === collection.source)!;
      const interval = collection.pitr.intervalMinutes;
      schedules[collection.name] = new scheduler.Schedule(this, `${collection.name}Schedule`, {
        description: `Tidemark change archive of collection ${collection.name} (source ${source.id}), every ${interval} min`,
        schedule: scheduler.ScheduleExpression.rate(Duration.minutes(interval)),
        scheduleGroup: props.group,
        target: new targets.StepFunctionsStartExecution(this.machine, {
          input: scheduler.ScheduleTargetInput.fromObject(archiveRunInput(collection, source)),
          // A start older than a minute is the next run's work: never two queued for one slot.
          maxEventAge: Duration.minutes(1),
          retryAttempts: 1,
          deadLetterQueue: props.deadLetterQueue,
        }),
      });
      alarms[collection.name] = this.alarmsFor(collection, props.archiveFunction, notify);
      baseBackupRules[collection.name] = new events.Rule(this, `${collection.name}Gap`, {
        description: `A gap in collection ${collection.name}'s change archive starts its new chain's base backup`,
        eventBus: props.eventBus,
        eventPattern: {
          source: ['tidemark'],
          detailType: ['ChangeArchiveGap'],
          detail: { collection: [collection.name] },
        },
        targets: [
          new eventTargets.SfnStateMachine(props.backupStateMachine, {
            input: events.RuleTargetInput.fromObject(backupRunInput(collection, source)),
            retryAttempts: 3,
          }),
        ],
      });
    }
    this.alertRule = new events.Rule(this, 'Alerts', {
      description: 'Tidemark ChangeArchiveGap and ChangeArchiveFailed events to the alert topic',
      eventBus: props.eventBus,
      eventPattern: { source: ['tidemark'], detailType: ['ChangeArchiveGap', 'ChangeArchiveFailed'] },
    });
    props.monitoring.publishEventsFrom(this.alertRule);
    this.schedules = schedules;
    this.alarms = alarms;
    this.baseBackupRules = baseBackupRules;
  }

  private alarmsFor(collection: PitrCollection, fn: lambda.IFunction, notify: actions.SnsAction): ArchiveAlarms {
    const metric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: ARCHIVE_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: 'tidemark', function: fn.functionName, collection: collection.name },
        statistic,
        period,
      });
    const name = collection.name;
    const interval = collection.pitr.intervalMinutes;
    const five = Duration.minutes(5);
    const alarm = (id: string, props: cloudwatch.AlarmProps) => {
      const a = new cloudwatch.Alarm(this, `${name}${id}`, props);
      a.addAlarmAction(notify);
      return a;
    };
    return {
      retainedWal: alarm('RetainedWal', {
        metric: metric('SlotRetainedBytes', 'Maximum', five),
        alarmDescription: `Tidemark slot of collection ${name} retains more than ${collection.pitr.retainedWalAlarmBytes} bytes of WAL on the source: the archive falls behind (see the archive executions) and the source's disk fills. Fix the archive, or run \`tidemark pitr disable\` before the disk is full.`,
        threshold: collection.pitr.retainedWalAlarmBytes,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      slotLost: alarm('SlotLost', {
        metric: metric('SlotLost', 'Maximum', five),
        alarmDescription: `Tidemark slot of collection ${name} was lost or dropped: its change archive has a gap (see the ChangeArchiveGap event), and a new chain with a new base backup began.`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      // Every run writes a segment (an idle source's heartbeat moves the archive too): none in
      // twice the interval means the archive stopped. No data at all counts as none.
      noSegment: alarm('NoSegment', {
        metric: metric('ArchiveSegments', 'Sum', Duration.minutes(2 * interval)),
        alarmDescription: `No change segment of Tidemark collection ${name} for ${2 * interval} min, twice its archive interval: the archive is not running or failing (see the archive executions).`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    };
  }
}

/**
 * The archive machine, as `StateMachines/Archive` beside the others. Express (README, "Costs"):
 * a run every minute per collection costs far less than Standard's state transitions, and a run
 * ends within its 5-minute limit (the task drains at most ARCHIVE_DRAIN_SECONDS).
 */
function archiveMachine(props: ChangeArchiveProps): sfn.StateMachine {
  const logGroup = new logs.LogGroup(props.machines, 'ArchiveLogs', {
    retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const machine = new sfn.StateMachine(props.machines, 'Archive', {
    definitionBody: sfn.DefinitionBody.fromFile(ARCHIVE_ASL_PATH),
    definitionSubstitutions: {
      EventBusName: props.eventBus.eventBusName,
      PitrArchiveFunctionArn: props.archiveFunction.functionArn,
    },
    stateMachineType: sfn.StateMachineType.EXPRESS,
    timeout: Duration.minutes(5),
    // Express history lives only in these logs: every state, no payloads (~0.1 GB a month at one
    // run a minute).
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    tracingEnabled: true,
  });
  machine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'InvokeTasks',
      actions: ['lambda:InvokeFunction'],
      resources: [props.archiveFunction.functionArn],
    }),
  );
  machine.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'PublishEvents',
      actions: ['events:PutEvents'],
      resources: [props.eventBus.eventBusArn],
    }),
  );
  return machine;
}
