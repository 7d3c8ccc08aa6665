// One Lambda function per entry of functions/index.ts, each with its own role holding exactly
// its task's access (task-profiles.ts), in the databases' VPC.
import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_ENV } from '../../src/adapters/aws-resources.ts';
import { TASK_BUNDLING } from '../task-bundling.ts';
import { profileOf, TASK_PROFILES, type TaskProfile } from '../task-profiles.ts';
import { taskStatements, type TaskResources } from '../task-policy.ts';
import { writesDocuments } from '../../functions/runtime/task-profile.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TaskNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  /** The functions' own group (network.ts); ENIs may be created with this group only. */
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface TaskFunctionsProps extends TaskResources {
  /** functions/index.ts `functionEntries`: function name → file under functions/. */
  readonly entries: Readonly<Record<string, string>>;
  readonly network: TaskNetwork;
  /** TASK_PROFILES unless given. */
  readonly profiles?: Readonly<Record<string, TaskProfile>>;
  readonly logRetention?: logs.RetentionDays;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export class TaskFunctions extends Construct {
  /** By the name the ASL placeholders use (`${<Name>FunctionArn}`). */
  public readonly functions: Readonly<Record<string, nodejs.NodejsFunction>>;
  /** ENI management every VPC function needs; shared by all task roles. */
  public readonly networkInterfacePolicy: iam.ManagedPolicy;
  /** X-Ray segments of the Lambda runtime; shared by all task roles. */
  public readonly tracingPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: TaskFunctionsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const ec2Arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName });
    this.networkInterfacePolicy = new iam.ManagedPolicy(this, 'NetworkInterfaces', {
      description:
        'Lets Lambda attach Tidemark task functions to the VPC: ENIs in the configured subnets with the task security group only',
      statements: [
        // EC2 authorizes CreateNetworkInterface on the new interface (its id unknown until then),
        // the subnet and the security group (EC2 service authorization reference): an ENI in
        // another subnet or with another group is refused.
        new iam.PolicyStatement({
          sid: 'CreateInConfiguredSubnets',
          actions: ['ec2:CreateNetworkInterface'],
          resources: [
            ec2Arn('network-interface', '*'),
            ...props.network.subnets.map((s) => ec2Arn('subnet', s.subnetId)),
            ec2Arn('security-group', props.network.securityGroup.securityGroupId),
          ],
        }),
        // Describe actions support no resource-level permissions.
        new iam.PolicyStatement({
          sid: 'Describe',
          actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
          resources: ['*'],
        }),
        new iam.PolicyStatement({
          sid: 'ManageOwnInterfaces',
          actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
          resources: [ec2Arn('network-interface', '*')],
        }),
      ],
    });
    // Tracing is switched on below on the L1 function rather than with `tracing: ACTIVE`, which
    // would put these "*" grants into each role's own policy, next to the task's grants.
    this.tracingPolicy = new iam.ManagedPolicy(this, 'Tracing', {
      description: "Lets the Lambda runtime send the Tidemark task functions' X-Ray segments",
      statements: [
        new iam.PolicyStatement({
          sid: 'SendTraces',
          actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
          resources: ['*'],
        }),
      ],
    });

    const functions: Record<string, nodejs.NodejsFunction> = {};
    /** The roles that may MAC documents: the key policy denies it to every other principal. */
    const macWriters: iam.Role[] = [];
    for (const [name, file] of Object.entries(props.entries)) {
      const profile = profileOf(name, props.profiles ?? TASK_PROFILES);
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `Tidemark ${name} task`,
        managedPolicies: [this.networkInterfacePolicy, this.tracingPolicy],
      });
      for (const statement of taskStatements(profile.access, props)) role.addToPrincipalPolicy(statement);
      if (writesDocuments(profile.access)) macWriters.push(role);
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      });
      functions[name] = new nodejs.NodejsFunction(this, name, {
        description: `Tidemark ${name} task (functions/${file})`,
        entry: fileURLToPath(new URL(`../../functions/${file}`, import.meta.url)),
        handler: 'handler',
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: profile.memoryMb,
        timeout: Duration.seconds(profile.timeoutSeconds),
        role,
        logGroup,
        vpc: props.network.vpc,
        vpcSubnets: { subnets: props.network.subnets },
        securityGroups: [props.network.securityGroup],
        environment: {
          [FUNCTION_ENV.bucket]: props.bucket.bucketName,
          [FUNCTION_ENV.prefix]: props.prefix,
          [FUNCTION_ENV.catalogTable]: props.table.tableName,
          [FUNCTION_ENV.macKeyArn]: props.macKey.keyArn,
          POWERTOOLS_SERVICE_NAME: 'tidemark',
          POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
        },
        bundling: TASK_BUNDLING,
      });
      (functions[name].node.defaultChild as lambda.CfnFunction).tracingConfig = { mode: lambda.Tracing.ACTIVE };
      // The role's logs permissions cover only this function's log group.
      logGroup.grantWrite(role);
    }
    this.functions = functions;
    // Whoever can make a MAC can make a document every task accepts (DESIGN.md invariant 10):
    // not an administrator through the key policy's account statement either. Only the
    // break-glass role may change this policy (repository-protection.ts).
    props.macKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyDocumentWritersMac',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:GenerateMac'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': macWriters.map((r) => r.roleArn) } },
      }),
    );
  }
}
