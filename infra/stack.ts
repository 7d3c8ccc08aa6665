// The Tidemark stack: the repository, the catalog, the task functions, the state machines
// that chain them, the schedules that start backups, and the alarms. Outputs are read by the
// cloud-mode CLI by these exact keys.
import { readFileSync } from 'node:fs';
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import type { TidemarkConfig } from './config.ts';
import { longestIntervalMinutes } from './schedule-expression.ts';
import { RepositoryStorage } from './constructs/repository-storage.ts';
import { CatalogTable } from './constructs/catalog-table.ts';
import { TaskFunctions } from './constructs/task-functions.ts';
import { aslPath, TidemarkStateMachines } from './constructs/state-machines.ts';
import { BackupSchedules } from './constructs/backup-schedules.ts';
import { Monitoring } from './constructs/monitoring.ts';
import type { TaskProfile } from './task-profiles.ts';

export const STACK_OUTPUTS = ['BackupStateMachineArn', 'RestoreStateMachineArn', 'CatalogTableName', 'RepositoryBucketName', 'EventBusName'] as const;

export interface TidemarkStackProps extends StackProps {
  readonly config: TidemarkConfig;
  /** functions/index.ts `functionEntries`. */
  readonly functionEntries: Readonly<Record<string, string>>;
  /** What each task is granted (infra/task-profiles.ts TASK_PROFILES by default). */
  readonly profiles?: Readonly<Record<string, TaskProfile>>;
}

export class TidemarkStack extends Stack {
  public readonly repository: RepositoryStorage;
  public readonly catalog: CatalogTable;
  public readonly tasks: TaskFunctions;
  public readonly stateMachines: TidemarkStateMachines;
  public readonly schedules: BackupSchedules;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: TidemarkStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.repository = new RepositoryStorage(this, 'Repository', { prefix: config.repository.prefix, tierChunks: config.repository.tierChunks });
    this.catalog = new CatalogTable(this, 'Catalog', { encryptionKey: this.repository.key });

    // Imported, never looked up: synth stays offline.
    const network = config.sources[0]!.network;
    const subnets = uniqueBy(config.sources.flatMap((s) => s.network.subnets), (s) => s.id);
    const securityGroupIds = [...new Set(config.sources.map((s) => s.network.securityGroupId))];
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: network.vpcId, availabilityZones: [...new Set(subnets.map((s) => s.availabilityZone))] });
    const sourceSecretArns = config.sources.map((s) => s.secretArn);

    this.tasks = new TaskFunctions(this, 'Tasks', {
      entries: props.functionEntries,
      profiles: props.profiles,
      network: {
        vpc,
        subnets: subnets.map((s) => ec2.Subnet.fromSubnetAttributes(this, `Subnet-${s.id}`, { subnetId: s.id, availabilityZone: s.availabilityZone })),
        securityGroups: securityGroupIds.map((sg) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${sg}`, sg, { mutable: false })),
      },
      bucket: this.repository.bucket,
      prefix: this.repository.prefix,
      table: this.catalog.table,
      key: this.repository.key,
      sourceSecretArns,
      // A disaster-recovery restore often goes back into the source's own server.
      restoreTargetSecretArns: [...new Set([...sourceSecretArns, ...config.restoreTargets.map((t) => t.secretArn)])],
    });

    this.stateMachines = new TidemarkStateMachines(this, 'StateMachines', {
      functions: this.tasks.functions,
      definitions: { backup: readFileSync(aslPath('backup'), 'utf8'), restore: readFileSync(aslPath('restore'), 'utf8') },
    });

    this.schedules = new BackupSchedules(this, 'Schedules', {
      collections: config.collections,
      sources: config.sources,
      backupStateMachine: this.stateMachines.backup,
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      eventBus: this.stateMachines.eventBus,
      backup: this.stateMachines.backup,
      restore: this.stateMachines.restore,
      functions: this.tasks.functions,
      staleness: config.collections.map((c) => ({ collection: c.name, intervalMinutes: longestIntervalMinutes(c.schedule.expression) })),
      alarmEmail: config.alarmEmail,
    });
    for (const c of config.collections) {
      if (!this.monitoring.stalenessAlarms[c.name]) {
        Annotations.of(this).addWarningV2('tidemark:noStalenessAlarm', `collections: ${c.name} runs less often than every 3.5 days; CloudWatch cannot watch a window of twice that, so it has no staleness alarm.`);
      }
    }

    const outputs: Record<(typeof STACK_OUTPUTS)[number], string> = {
      BackupStateMachineArn: this.stateMachines.backup.stateMachineArn,
      RestoreStateMachineArn: this.stateMachines.restore.stateMachineArn,
      CatalogTableName: this.catalog.table.tableName,
      RepositoryBucketName: this.repository.bucket.bucketName,
      EventBusName: this.stateMachines.eventBus.eventBusName,
    };
    for (const [key, value] of Object.entries(outputs)) new CfnOutput(this, key, { value });
    // CloudFormation outputs cannot be empty: no RepositoryPrefix output means the bucket root.
    if (config.repository.prefix) new CfnOutput(this, 'RepositoryPrefix', { value: config.repository.prefix, description: 'Key prefix of the repository inside RepositoryBucketName' });
    new CfnOutput(this, 'AlertTopicArn', { value: this.monitoring.topic.topicArn });

  }
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
