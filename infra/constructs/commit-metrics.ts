// Committed backups counted per collection, for the staleness alarms. The backup state
// machine's own metric (ExecutionsSucceeded) is shared by every collection, so one collection's
// success would silence every other collection's alarm; the BackupCommitted event names its
// collection (`detail.collection`), so a rule copies those events into a log group and a
// metric filter counts them with the collection as a dimension: one metric per collection.
//
// Why a metric filter, not a function that calls PutMetricData: no code to run, secure and
// keep up to date, no role with cloudwatch:PutMetricData on "*", and the log group is, besides,
// a year's record of every commit (backup id, sizes) that no alarm needs the catalog for.
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export const COMMITTED_METRIC = 'BackupsCommitted';
export const COLLECTION_DIMENSION = 'Collection';

export interface CommitMetricsProps {
  readonly eventBus: events.IEventBus;
}

export class CommitMetrics extends Construct {
  public readonly logGroup: logs.LogGroup;
  public readonly rule: events.Rule;
  public readonly filter: logs.MetricFilter;
  /** One namespace per stack: two stacks in one account may each have a collection "orders". */
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: CommitMetricsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.namespace = `Tidemark/${stack.stackName}`;
    this.logGroup = new logs.LogGroup(this, 'Log', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.rule = new events.Rule(this, 'ToLog', {
      description: 'Tidemark BackupCommitted events to the commit log (per-collection metrics)',
      eventBus: props.eventBus,
      eventPattern: { source: ['tidemark'], detailType: ['BackupCommitted'] },
    });
    // The log group ARN without the ":*" suffix is what EventBridge targets.
    const target = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: this.logGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.rule.addTarget({ bind: () => ({ arn: target }) });
    // EventBridge writes to a log group through the log group's resource policy (not a role);
    // this one admits only this rule. (The CloudWatchLogGroup target would add one through a
    // custom resource, without the aws:SourceArn binding.)
    new logs.ResourcePolicy(this, 'EventsMayWrite', {
      policyStatements: [
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.logGroup.logGroupArn],
          conditions: { ArnEquals: { 'aws:SourceArn': this.rule.ruleArn } },
        }),
      ],
    });
    this.filter = new logs.MetricFilter(this, 'ByCollection', {
      logGroup: this.logGroup,
      metricNamespace: this.namespace,
      metricName: COMMITTED_METRIC,
      filterPattern: logs.FilterPattern.exists('$.detail.collection'),
      metricValue: '1',
      dimensions: { [COLLECTION_DIMENSION]: '$.detail.collection' },
    });
  }

  /** Backups of `collection` committed per period (Sum). */
  committed(collection: string, period: Duration): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: COMMITTED_METRIC,
      dimensionsMap: { [COLLECTION_DIMENSION]: collection },
      statistic: 'Sum',
      period,
    });
  }
}
