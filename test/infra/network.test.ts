// Network least privilege (issue 14, item 5): the task functions' own security group reaches
// only the databases' groups on their ports and the VPC endpoints; the endpoints serve only the
// repository bucket, the catalog table, the configured secrets and the repository key's MACs; ENIs may be created only in
// the configured subnets with that group.
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, decide, deployedPolicies } from './support/simulate.ts';
import { logicalIdOf, render, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let group: string;
let endpointGroup: string;
let kmsGroup: string;
const resource = (id: string) => s.template.toJSON().Resources[id];
const egressOf = (synthesized: Synthesized, groupId: string) => [
  ...(synthesized.template.toJSON().Resources[groupId].Properties.SecurityGroupEgress ?? []),
  ...Object.values(synthesized.template.findResources('AWS::EC2::SecurityGroupEgress'))
    .filter((r) => render(r.Properties.GroupId) === `<${groupId}.GroupId>`)
    .map((r) => {
      const { GroupId: _, ...rule } = r.Properties;
      return rule;
    }),
];

beforeAll(() => {
  // GIVEN the example: orders and billing in their own groups, a DR sandbox in a third
  s = synthesize();
  group = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', 'NetworkTasks');
  endpointGroup = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', 'NetworkSecretsManagerEndpointGroup');
  kmsGroup = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', 'NetworkKmsEndpointGroup');
});

describe('the task security group', () => {
  it("is the stack's own, and its egress reaches only the databases' groups on their ports and the four endpoints on 443", () => {
    const rules = egressOf(s, group).map((r: any) => ({
      ...r,
      ...(r.DestinationPrefixListId ? { DestinationPrefixListId: render(r.DestinationPrefixListId) } : {}),
      ...(r.DestinationSecurityGroupId?.['Fn::GetAtt']
        ? { DestinationSecurityGroupId: render(r.DestinationSecurityGroupId) }
        : {}),
    }));
    const tcp = (from: number) => ({ IpProtocol: 'tcp', FromPort: from, ToPort: from });
    expect(rules).toEqual([
      {
        ...tcp(5432),
        DestinationSecurityGroupId: 'sg-0a1b2c3d4e5f60718',
        Description: 'Database group sg-0a1b2c3d4e5f60718, port 5432',
      },
      {
        ...tcp(5432),
        DestinationSecurityGroupId: 'sg-0b1c2d3e4f5a60719',
        Description: 'Database group sg-0b1c2d3e4f5a60719, port 5432',
      },
      {
        ...tcp(5432),
        DestinationSecurityGroupId: 'sg-0c1d2e3f4a5b60720',
        Description: 'Database group sg-0c1d2e3f4a5b60720, port 5432',
      },
      {
        ...tcp(443),
        DestinationPrefixListId: `<${logicalIdOf(s.template, 'Custom::AWS', 'Networks3PrefixList')}.PrefixLists.0.PrefixListId>`,
        Description: 's3 gateway endpoint',
      },
      {
        ...tcp(443),
        DestinationPrefixListId: `<${logicalIdOf(s.template, 'Custom::AWS', 'NetworkdynamodbPrefixList')}.PrefixLists.0.PrefixListId>`,
        Description: 'dynamodb gateway endpoint',
      },
      {
        ...tcp(443),
        DestinationSecurityGroupId: `<${endpointGroup}.GroupId>`,
        Description: 'Secrets Manager interface endpoint',
      },
      { ...tcp(443), DestinationSecurityGroupId: `<${kmsGroup}.GroupId>`, Description: 'KMS interface endpoint' },
    ]);
    // No CIDR anywhere: nothing outside these groups and prefix lists, so no database outside the VPC.
    expect(JSON.stringify(rules)).not.toContain('CidrIp');
    expect(resource(group).Properties.VpcId).toBe(s.config.sources[0]!.network.vpcId);
  });

  it('reaches a database on its own port: a target on 6432 opens 6432 to its group, not 5432', () => {
    const config = structuredClone(s.config);
    config.restoreTargets[0] = { ...config.restoreTargets[0]!, port: 6432 };
    const other = synthesize(config);
    const rules = egressOf(other, logicalIdOf(other.template, 'AWS::EC2::SecurityGroup', 'NetworkTasks')).filter(
      (r: any) => r.DestinationSecurityGroupId === 'sg-0c1d2e3f4a5b60720',
    );
    expect(rules.map((r: any) => [r.FromPort, r.ToPort])).toEqual([[6432, 6432]]);
  });

  it("is in the TaskSecurityGroupId output, for the databases' ingress rules", () => {
    s.template.hasOutput('TaskSecurityGroupId', { Value: { 'Fn::GetAtt': [group, 'GroupId'] } });
  });

  it("gateway prefix lists are looked up at deploy time, by the region's service names", () => {
    for (const service of ['s3', 'dynamodb']) {
      const lookup = resource(logicalIdOf(s.template, 'Custom::AWS', `Network${service}PrefixList`)).Properties;
      expect(JSON.parse(render(lookup.Create))).toMatchObject({
        service: 'EC2',
        action: 'describeManagedPrefixLists',
        parameters: { Filters: [{ Name: 'prefix-list-name', Values: [`com.amazonaws.eu-west-1.${service}`] }] },
        outputPaths: ['PrefixLists.0.PrefixListId'],
      });
    }
  });
});

describe('the VPC endpoints', () => {
  it.each([
    [
      'S3',
      's3',
      ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
      'RepositoryBucket',
      ['', '/*'],
    ],
    [
      'DynamoDb',
      'dynamodb',
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:Scan',
        'dynamodb:UpdateItem',
      ],
      'CatalogTable',
      ['', '/index/*'],
    ],
  ])(
    "the %s gateway endpoint is on the subnets' route tables and serves only the repository's %s resource",
    (id, service, actions, target, suffixes) => {
      const endpoint = resource(logicalIdOf(s.template, 'AWS::EC2::VPCEndpoint', `Network${id}`)).Properties;
      expect(endpoint.VpcEndpointType).toBe('Gateway');
      expect(render(endpoint.ServiceName)).toBe(`com.amazonaws.<AWS::Region>.${service}`);
      expect(endpoint.RouteTableIds).toEqual(s.config.sources[0]!.network.subnets.map((n) => n.routeTableId));
      const targetId = logicalIdOf(
        s.template,
        target === 'RepositoryBucket' ? 'AWS::S3::Bucket' : 'AWS::DynamoDB::Table',
        target,
      );
      expect(endpoint.PolicyDocument.Statement.map((x: any) => ({ ...x, Resource: x.Resource.map(render) }))).toEqual([
        {
          Sid: expect.any(String),
          Effect: 'Allow',
          Principal: { AWS: '*' },
          Action: actions,
          Resource: suffixes.map((suffix) => `<${targetId}.Arn>${suffix}`),
        },
      ]);
    },
  );

  it('the Secrets Manager interface endpoint: one subnet per zone, private DNS, HTTPS from the task group only, the configured secrets only', () => {
    const endpoint = resource(logicalIdOf(s.template, 'AWS::EC2::VPCEndpoint', 'NetworkSecretsManager')).Properties;
    expect(endpoint).toMatchObject({
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SecurityGroupIds: [{ 'Fn::GetAtt': [endpointGroup, 'GroupId'] }],
    });
    expect(endpoint.SubnetIds).toEqual(['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002']);
    const secrets = [
      ...new Set([...s.config.sources.map((x) => x.secretArn), ...s.config.restoreTargets.map((t) => t.secretArn)]),
    ].sort();
    expect(endpoint.PolicyDocument.Statement).toEqual([
      {
        Sid: 'ConfiguredSecretsOnly',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 'secretsmanager:GetSecretValue',
        Resource: secrets,
      },
    ]);
    const ingress = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) => render(r.Properties.GroupId) === `<${endpointGroup}.GroupId>`,
    );
    expect(
      ingress.map((r) => ({ from: render(r.Properties.SourceSecurityGroupId), port: r.Properties.FromPort })),
    ).toEqual([{ from: `<${group}.GroupId>`, port: 443 }]);
    expect(resource(endpointGroup).Properties.SecurityGroupIngress).toBeUndefined();
  });

  it('the KMS interface endpoint: one subnet per zone, private DNS, HTTPS from the task group only, MACs with the repository key only', () => {
    const endpoint = resource(logicalIdOf(s.template, 'AWS::EC2::VPCEndpoint', 'NetworkKms')).Properties;
    expect(endpoint).toMatchObject({
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SecurityGroupIds: [{ 'Fn::GetAtt': [kmsGroup, 'GroupId'] }],
    });
    expect(render(endpoint.ServiceName)).toContain('.kms');
    expect(endpoint.SubnetIds).toEqual(['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002']);
    const macKey = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryMacKey');
    expect(endpoint.PolicyDocument.Statement).toEqual([
      {
        Sid: 'RepositoryKeyMacsOnly',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: ['kms:GenerateMac', 'kms:VerifyMac'],
        Resource: { 'Fn::GetAtt': [macKey, 'Arn'] },
      },
    ]);
    const ingress = Object.values(s.template.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) => render(r.Properties.GroupId) === `<${kmsGroup}.GroupId>`,
    );
    expect(
      ingress.map((r) => ({ from: render(r.Properties.SourceSecurityGroupId), port: r.Properties.FromPort })),
    ).toEqual([{ from: `<${group}.GroupId>`, port: 443 }]);
  });

  it('an endpoint named in the configuration is used, not duplicated: egress to its group on 443', () => {
    // GIVEN a VPC that has its own Secrets Manager endpoint
    const config = {
      ...s.config,
      secretsManagerEndpoint: { securityGroupId: 'sg-0d1e2f3a4b5c60721' },
      kmsEndpoint: { securityGroupId: 'sg-0e1f2a3b4c5d60722' },
    };
    // WHEN synthesized
    const existing = synthesize(config);
    // THEN the stack creates no interface endpoint, and the task group may reach that one
    expect(
      Object.values(existing.template.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType),
    ).toEqual(['Gateway', 'Gateway']);
    const rules = egressOf(existing, logicalIdOf(existing.template, 'AWS::EC2::SecurityGroup', 'NetworkTasks'));
    expect(rules).toContainEqual({
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: 'sg-0d1e2f3a4b5c60721',
      Description: 'Secrets Manager interface endpoint (configured)',
    });
    expect(rules).toContainEqual({
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: 'sg-0e1f2a3b4c5d60722',
      Description: 'KMS interface endpoint (configured)',
    });
  });
});

describe('ENI creation, as EC2 authorizes it (simulated against the VPC-interface policy)', () => {
  // EC2 authorizes CreateNetworkInterface on the new interface, the subnet and each security group.
  const arn = (type: string, id: string) => `arn:aws:ec2:${ACCOUNT.region}:${ACCOUNT.accountId}:${type}/${id}`;
  const create = async (resourceArn: string) => {
    const p = deployedPolicies(s.template);
    const role = p.functionRole('BackupPlan');
    const identity = { Version: '2012-10-17', Statement: p.rolePolicies(role).flatMap((x) => x.policy.Statement) };
    return decide({
      principal: `arn:aws:iam::${ACCOUNT.accountId}:role/${role.toLowerCase()}`,
      action: 'ec2:CreateNetworkInterface',
      resource: resourceArn,
      identity,
      resourcePolicy: undefined,
    });
  };
  const taskGroup = () => `sg-${group.toLowerCase()}`;

  it('is allowed for a new interface, in a configured subnet, with the task group', async () => {
    expect(await create(arn('network-interface', '*'))).toBe('Allowed');
    for (const subnet of s.config.sources[0]!.network.subnets)
      expect(await create(arn('subnet', subnet.id))).toBe('Allowed');
    expect(await create(arn('security-group', taskGroup()))).toBe('Allowed');
  });

  it("is denied in another subnet, or with another group (a database's, say)", async () => {
    expect(await create(arn('subnet', 'subnet-0fffffffffffffff0'))).toBe('ImplicitlyDenied');
    expect(await create(arn('security-group', s.config.sources[0]!.network.securityGroupId))).toBe('ImplicitlyDenied');
  });
});
