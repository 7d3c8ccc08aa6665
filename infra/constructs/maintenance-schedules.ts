// One EventBridge Scheduler schedule per collection, starting the maintenance state machine
// (retention, then garbage collection) with `{ "collection": "<name>" }`: what `tidemark expire
// --collection <name>` and `tidemark gc` do locally, in AWS without a CLI.
import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/**
 * Daily, at an hour when nightly backups have ended: gc holds the repository's lease while it
 * sweeps, and a backup that starts meanwhile waits for it (at most 4 minutes, then fails).
 */
export const MAINTENANCE_SCHEDULE = 'cron(15 5 * * ? *)';

export interface MaintenanceSchedulesProps {
  readonly collections: readonly { readonly name: string; readonly schedule: { readonly timeZone: string } }[];
  readonly maintenanceStateMachine: sfn.IStateMachine;
  /** The backup schedules' group and dead-letter queue: the schedule alarms watch both. */
  readonly group: scheduler.IScheduleGroup;
  readonly deadLetterQueue: sqs.IQueue;
}

/** Execution input of one collection's maintenance. */
export function maintenanceRunInput(collection: string): { collection: string } {
  return { collection };
}

export class MaintenanceSchedules extends Construct {
  /** By collection name. */
  public readonly schedules: Readonly<Record<string, scheduler.Schedule>>;

  constructor(scope: Construct, id: string, props: MaintenanceSchedulesProps) {
    super(scope, id);
    const schedules: Record<string, scheduler.Schedule> = {};
    for (const collection of props.collections) {
      schedules[collection.name] = new scheduler.Schedule(this, collection.name, {
        description: `Tidemark retention and garbage collection of collection ${collection.name}`,
        schedule: scheduler.ScheduleExpression.expression(
          MAINTENANCE_SCHEDULE,
          TimeZone.of(collection.schedule.timeZone),
        ),
        scheduleGroup: props.group,
        target: new targets.StepFunctionsStartExecution(props.maintenanceStateMachine, {
          input: scheduler.ScheduleTargetInput.fromObject(maintenanceRunInput(collection.name)),
          // A day late, the next run does the same work.
          maxEventAge: Duration.hours(6),
          retryAttempts: 3,
          deadLetterQueue: props.deadLetterQueue,
        }),
      });
    }
    this.schedules = schedules;
  }
}
