// One EventBridge Scheduler schedule per collection, starting the backup state machine with
// the same input shape `tidemark backup` gives the local runner (src/cli/commands/backup.ts).
// The schedules share a group of their own (so alarms can watch exactly them) and a
// dead-letter queue that keeps every start Scheduler gave up on.
import { Duration, RemovalPolicy, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { backupRunInput as buildBackupRunInput } from '../../src/core/backup/run-input.ts';
import { LAMBDA_SNAPSHOT_HOLD_SECONDS } from '../../src/core/backup/hold-snapshot.ts';
import type { CollectionConfig, SourceConfig } from '../config.ts';

/** Execution input of one scheduled backup of `collection`. */
export function backupRunInput(collection: CollectionConfig, source: SourceConfig) {
  return buildBackupRunInput({
    source: { credentials: source.secretArn, database: source.database },
    collection: collection.name,
    // The first run creates the collection in the catalog and the repository (backup/start.ts).
    collectionDefinition: {
      schedule: collection.schedule.expression,
      retention: Object.fromEntries(Object.entries(collection.retention).filter(([rule]) => rule.startsWith('keep'))),
    },
    workers: collection.workers,
    // The export window in AWS: the holder is a Lambda (FORMAT.md, "Snapshot").
    snapshotHoldSeconds: LAMBDA_SNAPSHOT_HOLD_SECONDS,
  });
}

export interface BackupSchedulesProps {
  readonly collections: readonly CollectionConfig[];
  readonly sources: readonly SourceConfig[];
  readonly backupStateMachine: sfn.IStateMachine;
}

export class BackupSchedules extends Construct {
  /** By collection name. */
  public readonly schedules: Readonly<Record<string, scheduler.Schedule>>;
  public readonly group: scheduler.ScheduleGroup;
  /** Starts that failed past their retries or their hour: the event, with the error in its attributes. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: BackupSchedulesProps) {
    super(scope, id);
    this.group = new scheduler.ScheduleGroup(this, 'Group', { removalPolicy: RemovalPolicy.DESTROY });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // SQS's maximum: time to read why a start failed after a long weekend.
      retentionPeriod: Duration.days(14),
    });
    const schedules: Record<string, scheduler.Schedule> = {};
    for (const collection of props.collections) {
      const source = props.sources.find((s) => s.id === collection.source)!;
      schedules[collection.name] = new scheduler.Schedule(this, collection.name, {
        description: `Tidemark backup of collection ${collection.name} (source ${source.id}: ${source.host}:${source.port}/${source.database})`,
        schedule: scheduler.ScheduleExpression.expression(
          collection.schedule.expression,
          TimeZone.of(collection.schedule.timeZone),
        ),
        scheduleGroup: this.group,
        target: new targets.StepFunctionsStartExecution(props.backupStateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject(backupRunInput(collection, source)),
          // Late by more than an hour, the next scheduled run is the better backup.
          maxEventAge: Duration.hours(1),
          retryAttempts: 3,
          deadLetterQueue: this.deadLetterQueue,
        }),
      });
    }
    this.schedules = schedules;
  }
}
