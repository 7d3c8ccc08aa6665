// The backup and restore state machines, deployed from the very ASL files the local runner
// executes (DESIGN.md invariant 7), and the event bus their PutEvents tasks publish on.
import { fileURLToPath } from 'node:url';
import { RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

export type StateMachineName = 'backup' | 'restore' | 'maintenance';

/** `state-machines/<name>.asl.json`: the path `src/local/state-machine-runner.ts` definitionPath() returns. */
export function aslPath(name: StateMachineName): string {
  return fileURLToPath(new URL(`../../state-machines/${name}.asl.json`, import.meta.url));
}

/** Every placeholder an ASL file may hold. */
const FUNCTION_PLACEHOLDER = /\$\{(\w+)FunctionArn\}/g;

export interface TidemarkStateMachinesProps {
  /** By the name the placeholders use. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** ASL text of each machine, to find the functions it names. */
  readonly definitions: Readonly<Record<StateMachineName, string>>;
  readonly logRetention?: logs.RetentionDays;
}

export class TidemarkStateMachines extends Construct {
  public readonly eventBus: events.EventBus;
  public readonly backup: sfn.StateMachine;
  public readonly restore: sfn.StateMachine;
  /** Retention and garbage collection of one collection per execution (maintenance.asl.json). */
  public readonly maintenance: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: TidemarkStateMachinesProps) {
    super(scope, id);
    this.eventBus = new events.EventBus(this, 'Events', {
      description:
        'Tidemark BackupCommitted / BackupFailed / RestoreCompleted / RestoreFailed / MaintenanceCompleted / MaintenanceFailed',
    });
    this.backup = this.machine('backup', 'Backup', props);
    this.restore = this.machine('restore', 'Restore', props);
    this.maintenance = this.machine('maintenance', 'Maintenance', props);
  }

  private machine(name: StateMachineName, id: string, props: TidemarkStateMachinesProps): sfn.StateMachine {
    const used = [...new Set([...props.definitions[name].matchAll(FUNCTION_PLACEHOLDER)].map((m) => m[1]!))].sort();
    const missing = used.filter((fn) => !props.functions[fn]);
    if (missing.length > 0)
      throw new Error(
        `state-machines/${name}.asl.json names ${missing.join(', ')}, which functions/index.ts does not define.`,
      );
    const substitutions: Record<string, string> = { EventBusName: this.eventBus.eventBusName };
    for (const fn of used) substitutions[`${fn}FunctionArn`] = props.functions[fn]!.functionArn;

    // Executions log every state transition but no payloads: payloads hold ids, not secrets,
    // yet the logs stay lean and cheap.
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const machine = new sfn.StateMachine(this, id, {
      definitionBody: sfn.DefinitionBody.fromFile(aslPath(name)),
      definitionSubstitutions: substitutions,
      stateMachineType: sfn.StateMachineType.STANDARD,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    // Only its own functions, unqualified (the ASL names them so), and only its own bus.
    machine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeTasks',
        actions: ['lambda:InvokeFunction'],
        resources: used.map((fn) => props.functions[fn]!.functionArn),
      }),
    );
    machine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PublishEvents',
        actions: ['events:PutEvents'],
        resources: [this.eventBus.eventBusArn],
      }),
    );
    return machine;
  }
}
