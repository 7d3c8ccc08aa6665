// Every cdk-nag finding this stack acknowledges, each on the narrowest construct and for the
// exact finding (cdk-nag v3: `Validations.of(construct).acknowledge`, one id per finding).
import { Stack, Validations } from 'aws-cdk-lib';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import type { TidemarkStack } from './stack.ts';

export interface Acknowledgement {
  readonly construct: IConstruct;
  readonly id: string;
  readonly reason: string;
}

/** The acknowledgements, listed so tests and reviewers can read them in one place. */
export function nagAcknowledgements(stack: TidemarkStack): Acknowledgement[] {
  const { tasks, stateMachines, repository } = stack;
  const acks: Acknowledgement[] = [
    {
      construct: tasks,
      id: 'AwsSolutions-L1',
      reason: 'DESIGN.md fixes the Lambda runtime at Node.js 22 (the version the bundles target and the local tests run the same code with); moving to a newer runtime is a deliberate, tested change.',
    },
    {
      construct: tasks.networkInterfacePolicy,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:CreateNetworkInterface / DescribeNetworkInterfaces / DescribeSubnets: Lambda validates VPC access against "*" and EC2 Describe actions support no resource scoping (the same statement as AWSLambdaVPCAccessExecutionRole, without its logs on "*").',
    },
    {
      construct: tasks.networkInterfacePolicy,
      id: `AwsSolutions-IAM5[Resource::arn:aws:ec2:${stack.region}:${stack.account}:network-interface/*]`,
      reason: 'Delete / assign / unassign addresses on the ENIs Lambda creates for the functions: their ids are created at run time, so only "network-interface/*" in this account and region can name them.',
    },
  ];
  for (const machine of [stateMachines.backup, stateMachines.restore]) {
    acks.push({
      construct: machine.role,
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Added by CDK for execution logging and X-Ray tracing: CloudWatch Logs vended log delivery (logs:*LogDelivery, PutResourcePolicy, Describe*) and xray:PutTraceSegments etc. have no resource-level permissions.',
    });
  }
  for (const area of ['runs', 'chunks', 'backups', 'collections']) {
    acks.push({
      construct: tasks,
      id: `AwsSolutions-IAM5[Resource::<${logicalId(repository.bucket)}.Arn>/${repository.prefix}${area}/*]`,
      reason: `Objects under ${repository.prefix}${area}/ of the repository bucket: their keys are content hashes, run ids and collection names made at run time. Each task role gets only the areas its task reads or writes (infra/task-profiles.ts).`,
    });
  }
  for (const subnet of stack.node.findAll().filter((c) => c.node.id.startsWith('Subnet-'))) {
    acks.push({
      construct: subnet,
      id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
      reason: 'Imported subnets only place the functions in the VPC; nothing in the stack reads their route tables.',
    });
  }
  return acks;
}

export function applyNagSuppressions(stack: TidemarkStack): void {
  for (const ack of nagAcknowledgements(stack)) Validations.of(ack.construct).acknowledge({ id: ack.id, reason: ack.reason });
}

function logicalId(bucket: s3.Bucket): string {
  const stack = Stack.of(bucket);
  return stack.resolve(stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)) as string;
}
