// Where the task functions sit and what they can reach (issue 14, item 5): a security group of
// the stack's own whose egress goes only to the databases' groups on their ports and to the VPC
// endpoints; S3 and DynamoDB gateway endpoints whose policies name only the repository bucket
// and the catalog table; Secrets Manager and KMS interface endpoints (the stack's, or ones the
// configuration names; the KMS one for the repository key, which the tasks call themselves).
// The VPC and subnets are imported, never looked up: synth stays offline.
import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

const HTTPS = ec2.Port.tcp(443);

export interface SubnetConfig {
  readonly id: string;
  readonly availabilityZone: string;
  readonly routeTableId: string;
}

export interface TaskNetworkProps {
  readonly vpcId: string;
  readonly subnets: readonly SubnetConfig[];
  /** Each database security group and port the functions connect to (sources and restore targets). */
  readonly databases: ReadonlyArray<{ readonly securityGroupId: string; readonly port: number }>;
  readonly bucket: s3.IBucket;
  readonly table: dynamodb.ITable;
  /** The secrets the functions read; the stack's Secrets Manager endpoint serves only these. */
  readonly secretArns: readonly string[];
  /** An existing Secrets Manager interface endpoint, by its security group; else the stack makes one. */
  readonly secretsManagerEndpoint?: { readonly securityGroupId: string };
  /** The repository key (HMAC): the stack's KMS endpoint serves GenerateMac / VerifyMac on it only. */
  readonly macKey: kms.IKey;
  /** An existing KMS interface endpoint in the VPC, by its security group; else the stack makes one. */
  readonly kmsEndpoint?: { readonly securityGroupId: string };
}

export class TaskNetwork extends Construct {
  public readonly vpc: ec2.IVpc;
  public readonly subnets: ec2.ISubnet[];
  /** The task functions' only security group. */
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  public readonly dynamoDbEndpoint: ec2.GatewayVpcEndpoint;
  /** Undefined when the configuration names an existing endpoint. */
  public readonly secretsManagerEndpoint?: ec2.InterfaceVpcEndpoint;
  /** Undefined when the configuration names an existing endpoint. */
  public readonly kmsEndpoint?: ec2.InterfaceVpcEndpoint;
  /** Deploy-time lookups of the gateway endpoints' prefix lists. */
  public readonly prefixListLookups: cr.AwsCustomResource[] = [];

  constructor(scope: Construct, id: string, props: TaskNetworkProps) {
    super(scope, id);
    const zones = [...new Set(props.subnets.map((s) => s.availabilityZone))];
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: zones });
    this.subnets = props.subnets.map((s) =>
      ec2.Subnet.fromSubnetAttributes(this, `Subnet-${s.id}`, {
        subnetId: s.id,
        availabilityZone: s.availabilityZone,
        routeTableId: s.routeTableId,
      }),
    );

    this.securityGroup = new ec2.SecurityGroup(this, 'Tasks', {
      vpc: this.vpc,
      description: 'Tidemark task functions: egress to the databases and the VPC endpoints only',
      allowAllOutbound: false,
    });
    for (const db of props.databases) {
      this.securityGroup.addEgressRule(
        ec2.Peer.securityGroupId(db.securityGroupId),
        ec2.Port.tcp(db.port),
        `Database group ${db.securityGroupId}, port ${db.port}`,
      );
    }

    // Gateway endpoints route S3 and DynamoDB traffic of the subnets' route tables privately and
    // for free. Their policies bound every principal in those subnets to this bucket and table.
    this.s3Endpoint = new ec2.GatewayVpcEndpoint(this, 'S3', {
      vpc: this.vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnets: this.subnets }],
    });
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RepositoryBucketOnly',
        principals: [new iam.AnyPrincipal()],
        // DeleteObject: gc (the CLI, or a maintenance task) removes expired backups and orphans.
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject', 's3:ListBucket'],
        resources: [props.bucket.bucketArn, props.bucket.arnForObjects('*')],
      }),
    );
    this.dynamoDbEndpoint = new ec2.GatewayVpcEndpoint(this, 'DynamoDb', {
      vpc: this.vpc,
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [{ subnets: this.subnets }],
    });
    this.dynamoDbEndpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CatalogTableOnly',
        principals: [new iam.AnyPrincipal()],
        actions: [
          'dynamodb:GetItem',
          'dynamodb:Query',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:Scan',
        ],
        resources: [props.table.tableArn, `${props.table.tableArn}/index/*`],
      }),
    );
    // A security group reaches a gateway endpoint through the service's AWS-managed prefix
    // list, whose id differs per region and which CloudFormation cannot name: look it up at
    // deploy time (synth stays offline).
    for (const service of ['s3', 'dynamodb']) {
      this.securityGroup.addEgressRule(
        ec2.Peer.prefixList(this.managedPrefixList(service)),
        HTTPS,
        `${service} gateway endpoint`,
      );
    }

    // An interface endpoint takes one subnet per availability zone.
    const onePerZone = zones.map((zone) => this.subnets.find((s) => s.availabilityZone === zone)!);
    this.secretsManagerEndpoint = this.interfaceEndpoint(
      'SecretsManager',
      'Secrets Manager',
      ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      onePerZone,
      props.secretsManagerEndpoint,
      new iam.PolicyStatement({
        sid: 'ConfiguredSecretsOnly',
        principals: [new iam.AnyPrincipal()],
        actions: ['secretsmanager:GetSecretValue'],
        resources: [...new Set(props.secretArns)],
      }),
    );
    // Private DNS sends every KMS call in the VPC through this endpoint: it serves the repository
    // key's MAC operations only (S3 and DynamoDB reach the data key from inside AWS, not through it).
    this.kmsEndpoint = this.interfaceEndpoint(
      'Kms',
      'KMS',
      ec2.InterfaceVpcEndpointAwsService.KMS,
      onePerZone,
      props.kmsEndpoint,
      new iam.PolicyStatement({
        sid: 'RepositoryKeyMacsOnly',
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:GenerateMac', 'kms:VerifyMac'],
        resources: [props.macKey.keyArn],
      }),
    );
  }

  /** An interface endpoint reachable on 443 from the task group only, serving `statement` only; or the configured one's group. */
  private interfaceEndpoint(
    id: string,
    title: string,
    service: ec2.IInterfaceVpcEndpointService,
    subnets: ec2.ISubnet[],
    existing: { readonly securityGroupId: string } | undefined,
    statement: iam.PolicyStatement,
  ): ec2.InterfaceVpcEndpoint | undefined {
    if (existing) {
      this.securityGroup.addEgressRule(
        ec2.Peer.securityGroupId(existing.securityGroupId),
        HTTPS,
        `${title} interface endpoint (configured)`,
      );
      return undefined;
    }
    const endpointGroup = new ec2.SecurityGroup(this, `${id}EndpointGroup`, {
      vpc: this.vpc,
      description: `Tidemark ${title} endpoint: HTTPS from the task functions only`,
      allowAllOutbound: false,
    });
    const endpoint = new ec2.InterfaceVpcEndpoint(this, id, {
      vpc: this.vpc,
      service,
      subnets: { subnets },
      securityGroups: [endpointGroup],
      open: false,
      privateDnsEnabled: true,
    });
    endpoint.addToPolicy(statement);
    this.securityGroup.connections.allowTo(endpointGroup, HTTPS, `${title} interface endpoint`);
    return endpoint;
  }

  /** Id of the AWS-managed prefix list `com.amazonaws.<region>.<service>`, found at deploy time. */
  private managedPrefixList(service: string): string {
    const name = `com.amazonaws.${Stack.of(this).region}.${service}`;
    const call: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [name] }] },
      physicalResourceId: cr.PhysicalResourceId.of(name),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    };
    const lookup = new cr.AwsCustomResource(this, `${service}PrefixList`, {
      onCreate: call,
      onUpdate: call,
      // DescribeManagedPrefixLists supports no resource-level permissions.
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    this.prefixListLookups.push(lookup);
    return lookup.getResponseField('PrefixLists.0.PrefixListId');
  }
}
