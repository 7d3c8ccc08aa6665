// One EventBridge Scheduler schedule per collection, starting the backup state machine with
// the same input shape `tidemark backup` gives the local runner (src/cli/commands/backup.ts).
import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFAULT_PLAN_OPTIONS } from '../../src/core/backup/plan.ts';
import { LAMBDA_SNAPSHOT_HOLD_SECONDS } from '../../src/core/backup/hold-snapshot.ts';
import type { CollectionConfig, SourceConfig } from '../config.ts';

/** Execution input of one scheduled backup of `collection`. */
export function backupRunInput(collection: CollectionConfig, source: SourceConfig) {
  return {
    source: { credentials: source.secretArn, database: source.database },
    collection: collection.name,
    // The first run creates the collection in the catalog and the repository (backup/start.ts).
    collectionDefinition: {
      schedule: collection.schedule.expression,
      retention: Object.fromEntries(Object.entries(collection.retention).filter(([rule]) => rule.startsWith('keep'))),
    },
    options: {
      workers: collection.workers,
      // The export window in AWS: the holder is a Lambda (FORMAT.md, "Snapshot").
      snapshotHoldSeconds: LAMBDA_SNAPSHOT_HOLD_SECONDS,
      plan: { chunkBytes: DEFAULT_PLAN_OPTIONS.chunkBytes, rangeBytes: DEFAULT_PLAN_OPTIONS.rangeBytes },
    },
  };
}

export interface BackupSchedulesProps {
  readonly collections: readonly CollectionConfig[];
  readonly sources: readonly SourceConfig[];
  readonly backupStateMachine: sfn.IStateMachine;
}

export class BackupSchedules extends Construct {
  /** By collection name. */
  public readonly schedules: Readonly<Record<string, scheduler.Schedule>>;

  constructor(scope: Construct, id: string, props: BackupSchedulesProps) {
    super(scope, id);
    const schedules: Record<string, scheduler.Schedule> = {};
    for (const collection of props.collections) {
      const source = props.sources.find((s) => s.id === collection.source)!;
      schedules[collection.name] = new scheduler.Schedule(this, collection.name, {
        description: `Tidemark backup of collection ${collection.name} (source ${source.id}: ${source.host}:${source.port}/${source.database})`,
        schedule: scheduler.ScheduleExpression.expression(collection.schedule.expression, TimeZone.of(collection.schedule.timeZone)),
        target: new targets.StepFunctionsStartExecution(props.backupStateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject(backupRunInput(collection, source)),
          // Late by more than an hour, the next scheduled run is the better backup.
          maxEventAge: Duration.hours(1),
          retryAttempts: 3,
        }),
      });
    }
    this.schedules = schedules;
  }
}
