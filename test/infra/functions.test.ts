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
const functionId = (name: string) => logicalIdOf(s.template, 'AWS::Lambda::Function', `Tasks${name}`);
const roleId = (name: string) => logicalIdOf(s.template, 'AWS::IAM::Role', `Tasks${name}Role`);
const fn = (name: string) => s.template.toJSON().Resources[functionId(name)];

beforeAll(() => {
  s = synthesize();
  bucket = logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket');
  table = logicalIdOf(s.template, 'AWS::DynamoDB::Table', 'CatalogTable');
  key = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryKey');
});

describe('task functions', () => {
  it('exist once per functions/index.ts entry, each with a profile', () => {
    s.template.resourceCountIs('AWS::Lambda::Function', Object.keys(functionEntries).length);
    expect(Object.keys(TASK_PROFILES).sort()).toEqual(Object.keys(functionEntries).sort());
    for (const name of Object.keys(functionEntries)) expect(fn(name).Properties.Description).toBe(`Tidemark ${name} task (functions/${functionEntries[name]})`);
  });

  it('run Node.js 22 on arm64, as ESM bundles (index.mjs)', () => {
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties, name).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
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

  it("run in the sources' VPC subnets with the configured security group", () => {
    const network = s.config.sources[0]!.network;
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.VpcConfig, name).toEqual({ SubnetIds: network.subnets.map((n) => n.id), SecurityGroupIds: [network.securityGroupId] });
    }
  });

  it('get the repository, catalog and logging environment', () => {
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.Environment.Variables, name).toEqual({
        TIDEMARK_BUCKET: { Ref: bucket },
        TIDEMARK_PREFIX: '',
        TIDEMARK_CATALOG_TABLE: { Ref: table },
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
      expect(statementsOfRole(s.template, roleId(name))).toContainEqual({ Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [`<${logs}.Arn>`] });
    }
  });

  it('have one role each, assumable by Lambda only, with the shared VPC-interface policy and no AWS managed policy', () => {
    const policy = logicalIdOf(s.template, 'AWS::IAM::ManagedPolicy', 'TasksNetworkInterfaces');
    for (const name of Object.keys(functionEntries)) {
      expect(fn(name).Properties.Role).toEqual({ 'Fn::GetAtt': [roleId(name), 'Arn'] });
      expect(s.template.toJSON().Resources[roleId(name)].Properties).toMatchObject({
        AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }] },
        ManagedPolicyArns: [{ Ref: policy }],
      });
    }
  });
});

// What each function is granted is proven by simulation in test/aws-grants.test.ts: every AWS
// call its task makes is allowed, and every grant is used. Here: properties of all grants.
describe('what each function is granted', () => {
  const targets = () => [...s.config.sources.map((x) => x.secretArn), ...s.config.restoreTargets.map((t) => t.secretArn)].sort();

  it('no function may delete from the repository', () => {
    for (const name of Object.keys(functionEntries)) {
      const actions = statementsOfRole(s.template, roleId(name)).flatMap((x) => x.Action);
      expect(actions.filter((a) => /^s3:Delete|^s3:PutLifecycle|^s3:PutBucket/.test(a)), name).toEqual([]);
    }
  });

  it('the database credentials are only the configured secrets, never a pattern', () => {
    const all = new Set(Object.keys(functionEntries).flatMap((name) => statementsOfRole(s.template, roleId(name)).filter((x) => x.Sid === 'DatabaseCredentials').flatMap((x) => x.Resource)));
    expect([...all].sort()).toEqual(targets());
    for (const arn of all) expect(render(arn)).not.toContain('*');
  });
});

describe('the VPC-interface policy', () => {
  it('is what Lambda needs for ENIs, with the mutating actions scoped to this account and region', () => {
    s.template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: {
        Statement: [
          { Sid: 'CreateAndDescribe', Effect: 'Allow', Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'], Resource: '*' },
          { Sid: 'ManageOwnInterfaces', Effect: 'Allow', Action: ['ec2:AssignPrivateIpAddresses', 'ec2:DeleteNetworkInterface', 'ec2:UnassignPrivateIpAddresses'], Resource: 'arn:aws:ec2:eu-west-1:123456789012:network-interface/*' },
        ],
      },
    });
  });
});
