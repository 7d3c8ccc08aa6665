// The maintenance state machine in the template: GIVEN the example configuration (two
// collections), WHEN synthesized, THEN each collection has a daily schedule that starts the
// maintenance machine with its name, the machine runs the very ASL file the local runner runs,
// and only the gc function may delete from the repository, only where gc deletes.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { aslPath } from '../../infra/constructs/state-machines.ts';
import { MAINTENANCE_SCHEDULE } from '../../infra/constructs/maintenance-schedules.ts';
import { functionEntries } from '../../functions/index.ts';
import { logicalIdOf, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let machine: string;
const resource = (id: string) => s.template.toJSON().Resources[id];

beforeAll(() => {
  s = synthesize();
  machine = logicalIdOf(s.template, 'AWS::StepFunctions::StateMachine', 'StateMachinesMaintenance');
});

describe('maintenance', () => {
  it('one schedule per collection, daily in its time zone, in the schedules group with its dead-letter queue, starting the maintenance machine with {collection}', () => {
    for (const c of s.config.collections) {
      const schedule = resource(
        logicalIdOf(s.template, 'AWS::Scheduler::Schedule', `Maintenance${c.name.replaceAll('-', '')}`),
      );
      expect(schedule.Properties, c.name).toMatchObject({
        ScheduleExpression: MAINTENANCE_SCHEDULE,
        ScheduleExpressionTimezone: c.schedule.timeZone,
        GroupName: resource(
          logicalIdOf(s.template, 'AWS::Scheduler::Schedule', `Schedules${c.name.replaceAll('-', '')}`),
        ).Properties.GroupName,
        Target: {
          Arn: { Ref: machine },
          RetryPolicy: { MaximumRetryAttempts: 3 },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [logicalIdOf(s.template, 'AWS::SQS::Queue', 'SchedulesDeadLetters'), 'Arn'] },
          },
        },
      });
      expect(JSON.parse(schedule.Properties.Target.Input)).toEqual({ collection: c.name });
    }
  });

  it('its schedules start executions through a role that may start only the maintenance machine (and dead-letter what fails)', () => {
    const schedules = Object.entries(s.template.findResources('AWS::Scheduler::Schedule')).filter(([id]) =>
      id.startsWith('Maintenance'),
    );
    const roles = new Set(schedules.map(([, x]) => x.Properties.Target.RoleArn['Fn::GetAtt'][0] as string));
    expect(roles.size).toBe(1);
    const dlq = logicalIdOf(s.template, 'AWS::SQS::Queue', 'SchedulesDeadLetters');
    expect(statementsOfRole(s.template, [...roles][0]!)).toEqual([
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: [`<${machine}>`] },
      { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [`<${dlq}.Arn>`] },
    ]);
  });

  it('the machine is the maintenance ASL file, and its role invokes only its two functions', () => {
    const asl = readFileSync(aslPath('maintenance'), 'utf8');
    expect(asl).toContain('${MaintenanceExpireFunctionArn}');
    expect(asl).toContain('${MaintenanceGcFunctionArn}');
    const role = resource(machine).Properties.RoleArn['Fn::GetAtt'][0] as string;
    const invoke = statementsOfRole(s.template, role).find((x) => x.Sid === 'InvokeTasks')!;
    expect(invoke.Resource.sort()).toEqual(
      [
        `<${logicalIdOf(s.template, 'AWS::Lambda::Function', 'TasksMaintenanceExpire')}.Arn>`,
        `<${logicalIdOf(s.template, 'AWS::Lambda::Function', 'TasksMaintenanceGc')}.Arn>`,
      ].sort(),
    );
  });

  it('only MaintenanceGc may delete, and only chunks, backups and runs', () => {
    for (const name of Object.keys(functionEntries)) {
      const deletes = statementsOfRole(
        s.template,
        logicalIdOf(s.template, 'AWS::IAM::Role', `Tasks${name}Role`),
      ).filter((x) => x.Action.some((a) => a.startsWith('s3:Delete')));
      if (name !== 'MaintenanceGc') {
        expect(deletes, name).toEqual([]);
        continue;
      }
      expect(deletes.flatMap((x) => x.Action)).toEqual(['s3:DeleteObject']);
      expect(
        deletes
          .flatMap((x) => x.Resource)
          .map((r) => r.replace(/^<[^>]+>/, ''))
          .sort(),
      ).toEqual(['/backups/*', '/chunks/*', '/runs/*']);
    }
  });
});
