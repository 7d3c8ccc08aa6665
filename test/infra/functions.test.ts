// The task functions: one per functions/index.ts entry, sized and placed as intended, each
// role holding exactly its task's access.
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEntries } from '../../functions/index.ts';
import { TASK_PROFILES } from '../../infra/task-profiles.ts';
import { logicalIdOf, render, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let bucket: string;
let table: string;
let key: string;
let macKey: string;
const functionId = (name: string) => logicalIdOf(s.template, 'AWS::Lambda::Function', `Tasks${name}`);
const roleId = (name: string) => logicalIdOf(s.template, 'AWS::IAM::Role', `Tasks${name}Role`);
const fn = (name: string) => s.template.toJSON().Resources[functionId(name)];

beforeAll(() => {
  s = synthesize();
  bucket = logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket');
  table = logicalIdOf(s.template, 'AWS::DynamoDB::Table', 'CatalogTable');
  key = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryKey');
  macKey = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryMacKey');
});

describe('task functions', () => {
  it('exist once per functions/index.ts entry, each with a profile', () => {
    const tasks = Object.keys(s.template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('Tasks'));
    expect(tasks).toHaveLength(Object.keys(functionEntries).length);
    expect(Object.keys(TASK_PROFILES).sort()).toEqual(Object.keys(functionEntries).sort());
    for (const name of Object.keys(functionEntries))
      expect(fn(name).Properties.Description).toBe(`Tidemark ${name} task (functions/${functionEntries[name]})`);
  });

  it('run Node.js 22 on arm64, as ESM bundles (index.mjs)', () => {
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties, name).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    }
  });

  it.each([
    ['BackupExportBatch', 3008, 900],
    ['RestoreLoadBatch', 1769, 900],
    ['RestoreVerifyBatch', 1769, 900],
    ['BackupHoldSnapshot', 256, 900],
    ['RestoreFinish', 1024, 900],
    ['BackupPlan', 1024, 300],
    ['BackupCommit', 1024, 300],
    ['RestorePrepare', 1024, 300],
    ['RestoreResolve', 1024, 120],
    ['RestoreComplete', 1024, 120],
    ['BackupStart', 256, 300],
    ['BackupAwaitSnapshot', 256, 60],
    ['BackupReleaseSnapshot', 256, 60],
    ['BackupFail', 256, 60],
    ['RestoreFail', 256, 60],
  ])('%s has %i MB and %i s', (name, memory, timeout) => {
    expect(fn(name).Properties).toMatchObject({ MemorySize: memory, Timeout: timeout });
  });

  it('the snapshot holder outlives the 840 s export window', () => {
    expect(fn('BackupHoldSnapshot').Properties.Timeout).toBeGreaterThan(840);
  });

  it("run in the sources' VPC subnets with the stack's own task security group, not the databases' groups", () => {
    const network = s.config.sources[0]!.network;
    const group = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', 'NetworkTasks');
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.VpcConfig, name).toEqual({
        SubnetIds: network.subnets.map((n) => n.id),
        SecurityGroupIds: [{ 'Fn::GetAtt': [group, 'GroupId'] }],
      });
    }
  });

  it("are traced with X-Ray (active), through one shared policy rather than each role's own", () => {
    const tracing = logicalIdOf(s.template, 'AWS::IAM::ManagedPolicy', 'TasksTracing');
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.TracingConfig, name).toEqual({ Mode: 'Active' });
      expect(
        statementsOfRole(s.template, roleId(name))
          .flatMap((x) => x.Action)
          .filter((a) => a.startsWith('xray:')),
        name,
      ).toEqual([]);
    }
    s.template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          {
            Sid: 'SendTraces',
            Effect: 'Allow',
            Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
            Resource: '*',
          },
        ],
      },
    });
    expect(s.template.toJSON().Resources[tracing].Properties.PolicyDocument.Statement).toHaveLength(1);
  });

  it('get the repository, repository key, catalog and logging environment', () => {
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.Environment.Variables, name).toEqual({
        TIDEMARK_BUCKET: { Ref: bucket },
        TIDEMARK_PREFIX: '',
        TIDEMARK_CATALOG_TABLE: { Ref: table },
        TIDEMARK_KMS_MAC_KEY_ARN: { 'Fn::GetAtt': [macKey, 'Arn'] },
        POWERTOOLS_SERVICE_NAME: 'tidemark',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    }
  });

  it('log to their own log group, kept three months, which only they may write', () => {
    for (const name of Object.keys(functionEntries)) {
      const logs = logicalIdOf(s.template, 'AWS::Logs::LogGroup', `Tasks${name}Logs`);
      expect(fn(name).Properties.LoggingConfig, name).toEqual({ LogGroup: { Ref: logs } });
      expect(s.template.toJSON().Resources[logs].Properties.RetentionInDays).toBe(90);
      expect(statementsOfRole(s.template, roleId(name))).toContainEqual({
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [`<${logs}.Arn>`],
      });
    }
  });

  it('have one role each, assumable by Lambda only, with the shared VPC-interface and tracing policies and no AWS managed policy', () => {
    const policy = logicalIdOf(s.template, 'AWS::IAM::ManagedPolicy', 'TasksNetworkInterfaces');
    const tracing = logicalIdOf(s.template, 'AWS::IAM::ManagedPolicy', 'TasksTracing');
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.Role).toEqual({ 'Fn::GetAtt': [roleId(name), 'Arn'] });
      expect(s.template.toJSON().Resources[roleId(name)].Properties).toMatchObject({
        AssumeRolePolicyDocument: {
          Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
        },
        ManagedPolicyArns: [{ Ref: policy }, { Ref: tracing }],
      });
    }
  });
});

// What each function is granted is proven by simulation in test/e2e/aws-grants.test.ts: every AWS
// call its task makes is allowed, and every grant is used. Here: properties of all grants.
describe('what each function is granted', () => {
  const backupRoles = () => Object.keys(functionEntries).filter((n) => n.startsWith('Backup'));
  const restoreRoles = () => Object.keys(functionEntries).filter((n) => n.startsWith('Restore'));
  const secretsOf = (names: string[]) =>
    new Set(
      names.flatMap((name) =>
        statementsOfRole(s.template, roleId(name))
          .filter((x) => x.Sid === 'DatabaseCredentials')
          .flatMap((x) => x.Resource),
      ),
    );

  it('no function may delete a version or change the bucket; only those with delete access (gc) may delete an object', () => {
    for (const name of Object.keys(functionEntries)) {
      const actions = statementsOfRole(s.template, roleId(name)).flatMap((x) => x.Action);
      expect(
        actions.filter((a) => /^s3:DeleteObjectVersion|^s3:PutLifecycle|^s3:PutBucket|^s3:PutEncryption/.test(a)),
        name,
      ).toEqual([]);
      // In a versioned bucket DeleteObject only adds a delete marker; the old version stays.
      const deletes = Boolean((TASK_PROFILES[name]!.access as { delete?: readonly string[] }).delete?.length);
      expect(actions.includes('s3:DeleteObject'), name).toBe(deletes);
    }
  });

  it('only StartBackup may put the repository marker (once, the bucket policy sees to that); every task that touches documents may get it, RestoreFail none', () => {
    const onMarker = (name: string) =>
      statementsOfRole(s.template, roleId(name)).filter((x) => x.Resource.some((r) => r.endsWith('/tidemark.json')));
    const marker = (actions: string[]) => [
      { Sid: 'RepositoryMarker', Effect: 'Allow', Action: actions, Resource: [`<${bucket}.Arn>/tidemark.json`] },
    ];
    expect(onMarker('BackupStart')).toEqual(marker(['s3:GetObject', 's3:PutObject']));
    // A container binds to the repository its marker names before its first document (aws-context.ts).
    for (const name of Object.keys(functionEntries).filter((n) => n !== 'BackupStart' && n !== 'RestoreFail'))
      expect(onMarker(name), name).toEqual(marker(['s3:GetObject']));
    expect(onMarker('RestoreFail')).toEqual([]);
  });

  it("the restore roles read only the restore targets' secrets: a source's only when it is listed there", () => {
    // GIVEN the example, whose "orders-in-place" target is the orders source's own secret
    // THEN the restore functions read exactly the restoreTargets secrets: billing's source secret is not one
    expect([...secretsOf(restoreRoles())].sort()).toEqual(s.config.restoreTargets.map((t) => t.secretArn).sort());
    expect(secretsOf(restoreRoles())).not.toContain(s.config.sources[1]!.secretArn);
  });

  it("the backup roles read only the sources' secrets", () => {
    expect([...secretsOf(backupRoles())].sort()).toEqual(s.config.sources.map((x) => x.secretArn).sort());
    for (const arn of [...secretsOf(backupRoles()), ...secretsOf(restoreRoles())])
      expect(render(arn)).not.toContain('*');
  });

  it("without the in-place target, the restore roles cannot read the orders source's secret", () => {
    // GIVEN the example without "orders-in-place"
    const config = structuredClone(s.config);
    config.restoreTargets = config.restoreTargets.filter((t) => t.id !== 'orders-in-place');
    // WHEN synthesized
    const other = synthesize(config);
    const roleOf = (name: string) => logicalIdOf(other.template, 'AWS::IAM::Role', `Tasks${name}Role`);
    // THEN the restore roles read the sandbox's secret only
    const secrets = new Set(
      restoreRoles().flatMap((name) =>
        statementsOfRole(other.template, roleOf(name))
          .filter((x) => x.Sid === 'DatabaseCredentials')
          .flatMap((x) => x.Resource),
      ),
    );
    expect([...secrets]).toEqual([config.restoreTargets[0]!.secretArn]);
  });
});

describe('the VPC-interface policy', () => {
  it('creates ENIs only in the configured subnets with the task security group; describes on "*"; manages ENIs of this account and region', () => {
    const group = logicalIdOf(s.template, 'AWS::EC2::SecurityGroup', 'NetworkTasks');
    const statements =
      s.template.toJSON().Resources[logicalIdOf(s.template, 'AWS::IAM::ManagedPolicy', 'TasksNetworkInterfaces')]
        .Properties.PolicyDocument.Statement;
    expect(statements.map((x: any) => ({ ...x, Resource: [x.Resource].flat().map(render) }))).toEqual([
      {
        Sid: 'CreateInConfiguredSubnets',
        Effect: 'Allow',
        Action: 'ec2:CreateNetworkInterface',
        Resource: [
          'arn:aws:ec2:eu-west-1:123456789012:network-interface/*',
          ...s.config.sources[0]!.network.subnets.map((n) => `arn:aws:ec2:eu-west-1:123456789012:subnet/${n.id}`),
          `arn:aws:ec2:eu-west-1:123456789012:security-group/<${group}.GroupId>`,
        ],
      },
      {
        Sid: 'Describe',
        Effect: 'Allow',
        Action: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
        Resource: ['*'],
      },
      {
        Sid: 'ManageOwnInterfaces',
        Effect: 'Allow',
        Action: ['ec2:AssignPrivateIpAddresses', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'],
        Resource: ['arn:aws:ec2:eu-west-1:123456789012:network-interface/*'],
      },
    ]);
  });
});
