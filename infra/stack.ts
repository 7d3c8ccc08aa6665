// The Tidemark stack: the repository, the catalog, the task functions, the state machines
// that chain them, the schedules that start backups, and the alarms. Outputs are read by the
// cloud-mode CLI by these exact keys.
import { readFileSync } from 'node:fs';
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { databaseEndpoints, type TidemarkConfig } from './config.ts';
import { longestIntervalMinutes } from './schedule-expression.ts';
import { RepositoryStorage } from './constructs/repository-storage.ts';
import { noncurrentVersionDays } from './constructs/repository-protection.ts';
import { TaskNetwork } from './constructs/network.ts';
import { TamperAlerts } from './constructs/tamper-alerts.ts';
import { CatalogTable } from './constructs/catalog-table.ts';
import { TaskFunctions } from './constructs/task-functions.ts';
import { aslPath, TidemarkStateMachines } from './constructs/state-machines.ts';
import { BackupSchedules } from './constructs/backup-schedules.ts';
import { MaintenanceSchedules } from './constructs/maintenance-schedules.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { ChangeArchive } from './constructs/change-archive.ts';
import type { TaskProfile } from './task-profiles.ts';

export const STACK_OUTPUTS = [
  'BackupStateMachineArn',
  'RestoreStateMachineArn',
  'CatalogTableName',
  'RepositoryBucketName',
  'EventBusName',
] as const;

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
  public readonly network: TaskNetwork;
  public readonly tasks: TaskFunctions;
  public readonly stateMachines: TidemarkStateMachines;
  public readonly schedules: BackupSchedules;
  public readonly maintenanceSchedules: MaintenanceSchedules;
  public readonly monitoring: Monitoring;
  public readonly tamperAlerts: TamperAlerts;
  public readonly changeArchive: ChangeArchive;

  constructor(scope: Construct, id: string, props: TidemarkStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.repository = new RepositoryStorage(this, 'Repository', {
      prefix: config.repository.prefix,
      tierChunks: config.repository.tierChunks,
      noncurrentVersionDays: noncurrentVersionDays(config.collections, config.repository.verifyIntervalDays),
      breakGlassRoleArn: config.breakGlassRoleArn,
    });
    this.catalog = new CatalogTable(this, 'Catalog', { encryptionKey: this.repository.key });

    const sourceSecretArns = config.sources.map((s) => s.secretArn);
    // Only the configured restore targets: a restore into a source's server needs it listed there.
    const restoreTargetSecretArns = [...new Set(config.restoreTargets.map((t) => t.secretArn))];
    this.network = new TaskNetwork(this, 'Network', {
      vpcId: config.sources[0]!.network.vpcId,
      subnets: uniqueBy(
        config.sources.flatMap((s) => s.network.subnets),
        (s) => s.id,
      ),
      databases: databaseEndpoints(config),
      bucket: this.repository.bucket,
      table: this.catalog.table,
      secretArns: [...sourceSecretArns, ...restoreTargetSecretArns],
      secretsManagerEndpoint: config.secretsManagerEndpoint,
      macKey: this.repository.macKey,
      kmsEndpoint: config.kmsEndpoint,
    });

    this.tasks = new TaskFunctions(this, 'Tasks', {
      entries: props.functionEntries,
      profiles: props.profiles,
      network: { vpc: this.network.vpc, subnets: this.network.subnets, securityGroup: this.network.securityGroup },
      bucket: this.repository.bucket,
      prefix: this.repository.prefix,
      table: this.catalog.table,
      key: this.repository.key,
      macKey: this.repository.macKey,
      sourceSecretArns,
      restoreTargetSecretArns,
    });

    this.stateMachines = new TidemarkStateMachines(this, 'StateMachines', {
      functions: this.tasks.functions,
      definitions: {
        backup: readFileSync(aslPath('backup'), 'utf8'),
        restore: readFileSync(aslPath('restore'), 'utf8'),
        maintenance: readFileSync(aslPath('maintenance'), 'utf8'),
      },
    });

    this.schedules = new BackupSchedules(this, 'Schedules', {
      collections: config.collections,
      sources: config.sources,
      backupStateMachine: this.stateMachines.backup,
    });

    this.maintenanceSchedules = new MaintenanceSchedules(this, 'Maintenance', {
      collections: config.collections,
      maintenanceStateMachine: this.stateMachines.maintenance,
      group: this.schedules.group,
      deadLetterQueue: this.schedules.deadLetterQueue,
    });
    new CfnOutput(this, 'MaintenanceStateMachineArn', {
      value: this.stateMachines.maintenance.stateMachineArn,
      description: 'Retention and gc of one collection: input {"collection": "<name>"}',
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      eventBus: this.stateMachines.eventBus,
      machines: {
        backup: this.stateMachines.backup,
        restore: this.stateMachines.restore,
        maintenance: this.stateMachines.maintenance,
      },
      functions: this.tasks.functions,
      schedules: this.schedules,
      staleness: config.collections.map((c) => ({
        collection: c.name,
        intervalMinutes: longestIntervalMinutes(c.schedule.expression),
      })),
      alarmEmail: config.alarmEmail,
    });
    this.changeArchive = new ChangeArchive(this, 'ChangeArchive', {
      collections: config.collections,
      sources: config.sources,
      machines: this.stateMachines,
      archiveFunction: this.tasks.functions.PitrArchive!,
      eventBus: this.stateMachines.eventBus,
      backupStateMachine: this.stateMachines.backup,
      group: this.schedules.group,
      deadLetterQueue: this.schedules.deadLetterQueue,
      monitoring: this.monitoring,
    });
    this.tamperAlerts = new TamperAlerts(this, 'TamperAlerts', {
      bucket: this.repository.bucket,
      key: this.repository.key,
      macKey: this.repository.macKey,
      monitoring: this.monitoring,
    });
    for (const c of config.collections) {
      if (!this.monitoring.stalenessAlarms[c.name]) {
        Annotations.of(this).addWarningV2(
          'tidemark:noStalenessAlarm',
          `collections: ${c.name} runs less often than every 3.5 days; CloudWatch cannot watch a window of twice that, so it has no staleness alarm.`,
        );
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
    if (config.repository.prefix)
      new CfnOutput(this, 'RepositoryPrefix', {
        value: config.repository.prefix,
        description: 'Key prefix of the repository inside RepositoryBucketName',
      });
    new CfnOutput(this, 'AlertTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'RepositoryMacKeyArn', {
      value: this.repository.macKey.keyArn,
      description:
        'The repository key: the KMS HMAC key that authenticates repository documents (a configured kmsEndpoint must allow GenerateMac / VerifyMac on it)',
    });
    new CfnOutput(this, 'TaskSecurityGroupId', {
      value: this.network.securityGroup.securityGroupId,
      description: 'Allow ingress from this group on each database\'s security group (docs/deploy.md, "Network")',
    });
  }
}

function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...new Map(items.map((item) => [key(item), item])).values()];
}
