// Every cdk-nag finding this stack acknowledges, each on the narrowest construct and for the
// exact finding (cdk-nag v3: `Validations.of(construct).acknowledge`, one id per finding).
import { Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import type { TidemarkStack } from './stack.ts';

export interface Acknowledgement {
  readonly construct: IConstruct;
  readonly id: string;
  readonly reason: string;
}

/** The acknowledgements, listed so tests and reviewers can read them in one place. */
export function nagAcknowledgements(stack: TidemarkStack): Acknowledgement[] {
  const { tasks, stateMachines, repository, network, schedules } = stack;
  const acks: Acknowledgement[] = [
    {
      construct: tasks,
      id: 'AwsSolutions-L1',
      reason:
        'DESIGN.md fixes the Lambda runtime at Node.js 22 (the version the bundles target and the local tests run the same code with); moving to a newer runtime is a deliberate, tested change.',
    },
    {
      construct: tasks.networkInterfacePolicy,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeNetworkInterfaces / DescribeSubnets, which Lambda calls to attach the functions to the VPC: EC2 Describe actions support no resource-level permissions. CreateNetworkInterface is scoped to the configured subnets and the task security group.',
    },
    {
      construct: tasks.networkInterfacePolicy,
      id: `AwsSolutions-IAM5[Resource::arn:aws:ec2:${stack.region}:${stack.account}:network-interface/*]`,
      reason:
        'Create / delete / assign / unassign addresses on the ENIs Lambda creates for the functions: their ids are made at run time, so only "network-interface/*" in this account and region can name them (creation is further bound to the configured subnets and the task security group).',
    },
    {
      construct: tasks.tracingPolicy,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "xray:PutTraceSegments / PutTelemetryRecords, with which the Lambda runtime sends the functions' traces: X-Ray supports no resource-level permissions for them.",
    },
    {
      construct: schedules.deadLetterQueue,
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself the dead-letter queue of the backup schedules (EventBridge Scheduler's DeadLetterConfig, which cdk-nag does not see); a dead-letter queue for it would only move the question.",
    },
  ];
  for (const machine of stateMachines.node.children.filter(
    (c): c is sfn.StateMachine => c instanceof sfn.StateMachine,
  )) {
    acks.push({
      construct: machine.role,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Added by CDK for execution logging and X-Ray tracing: CloudWatch Logs vended log delivery (logs:*LogDelivery, PutResourcePolicy, Describe*) and xray:PutTraceSegments etc. have no resource-level permissions.',
    });
  }
  for (const area of ['runs', 'chunks', 'backups', 'collections', 'segments']) {
    acks.push({
      construct: tasks,
      id: `AwsSolutions-IAM5[Resource::<${logicalId(repository.bucket)}.Arn>/${repository.prefix}${area}/*]`,
      reason: `Objects under ${repository.prefix}${area}/ of the repository bucket: their keys are content hashes, run ids and collection names made at run time. Each task role gets only the areas its task reads or writes (infra/task-profiles.ts).`,
    });
  }
  for (const lookup of network.prefixListLookups) {
    acks.push({
      construct: lookup,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "ec2:DescribeManagedPrefixLists, called once per deployment to find the id of the region's S3 / DynamoDB prefix list for the task security group's egress: it supports no resource-level permissions.",
    });
  }
  // CDK's one provider function behind every AwsCustomResource of the stack (the prefix-list lookups).
  const provider = stack.node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER);
  if (provider) {
    acks.push({
      construct: provider,
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "CDK's AwsCustomResource provider function (the prefix-list lookups, run during deployments only) writes its own logs with this AWS managed policy (logs:CreateLogGroup / CreateLogStream / PutLogEvents); its only other grant is DescribeManagedPrefixLists.",
    });
  }
  return acks;
}

/** Construct id CDK gives the singleton function of AwsCustomResource. */
const AWS_CUSTOM_RESOURCE_PROVIDER = 'AWS679f53fac002430cb0da5b7982bd2287';

export function applyNagSuppressions(stack: TidemarkStack): void {
  for (const ack of nagAcknowledgements(stack))
    Validations.of(ack.construct).acknowledge({ id: ack.id, reason: ack.reason });
}

function logicalId(bucket: s3.Bucket): string {
  const stack = Stack.of(bucket);
  return stack.resolve(stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)) as string;
}
