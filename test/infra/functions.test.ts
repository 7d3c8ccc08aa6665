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

describe('what each function is granted', () => {
  const objects = (...areas: string[]) => areas.map((a) => `<${bucket}.Arn>/${a}/*`);
  const sources = () => s.config.sources.map((x) => x.secretArn).sort();
  const targets = () => [...s.config.sources.map((x) => x.secretArn), ...s.config.restoreTargets.map((t) => t.secretArn)].sort();
  /** Statements of the role other than its log-group statement, by Sid. */
  const grants = (name: string) => Object.fromEntries(statementsOfRole(s.template, roleId(name)).filter((x) => x.Sid).map((x) => [x.Sid, { ...x, Resource: [...x.Resource].sort() }]));
  const s3 = (read: string[], write: string[]) => ({
    ...(read.length ? { RepositoryRead: { Sid: 'RepositoryRead', Effect: 'Allow', Action: ['s3:GetObject'], Resource: objects(...read) }, RepositoryList: { Sid: 'RepositoryList', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`<${bucket}.Arn>`] } } : {}),
    ...(write.length ? { RepositoryWrite: { Sid: 'RepositoryWrite', Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: objects(...write) } } : {}),
  });
  const catalog = (actions: string[], index = false) => ({
    Catalog: { Sid: 'Catalog', Effect: 'Allow', Action: actions.map((a) => `dynamodb:${a}`), Resource: index ? [`<${table}.Arn>`, `<${table}.Arn>/index/byKind`] : [`<${table}.Arn>`] },
  });
  const kms = (actions: string[], services: string[]) => ({
    RepositoryKey: { Sid: 'RepositoryKey', Effect: 'Allow', Action: actions, Resource: [`<${key}.Arn>`], Condition: { StringEquals: { 'kms:ViaService': services.map((x) => `${x}.eu-west-1.amazonaws.com`) } } },
  });
  const secrets = (arns: string[]) => ({ DatabaseCredentials: { Sid: 'DatabaseCredentials', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: arns } });

  const expected: Record<string, () => object> = {
    BackupStart: () => ({ ...s3(['collections'], ['collections']), ...catalog(['GetItem', 'PutItem', 'Query', 'UpdateItem'], true), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['s3', 'dynamodb']) }),
    BackupHoldSnapshot: () => ({ ...s3(['runs'], ['runs']), ...kms(['kms:Decrypt', 'kms:GenerateDataKey'], ['s3']), ...secrets(sources()) }),
    BackupAwaitSnapshot: () => ({ ...s3(['runs'], []), ...kms(['kms:Decrypt'], ['s3']) }),
    BackupPlan: () => ({ ...s3(['backups', 'runs'], ['runs']), ...catalog(['GetItem']), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'], ['s3', 'dynamodb']), ...secrets(sources()) }),
    BackupExportBatch: () => ({ ...s3(['backups', 'chunks', 'runs'], ['chunks', 'runs']), ...kms(['kms:Decrypt', 'kms:GenerateDataKey'], ['s3']), ...secrets(sources()) }),
    BackupReleaseSnapshot: () => ({ ...s3(['runs'], ['runs']), ...kms(['kms:Decrypt', 'kms:GenerateDataKey'], ['s3']) }),
    BackupCommit: () => ({ ...s3(['backups', 'runs'], ['backups']), ...catalog(['GetItem', 'UpdateItem']), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['s3', 'dynamodb']) }),
    BackupFail: () => ({ ...s3(['runs'], ['runs']), ...catalog(['GetItem', 'UpdateItem']), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['s3', 'dynamodb']) }),
    RestoreResolve: () => ({ ...s3(['backups'], []), ...catalog(['GetItem', 'PutItem', 'Query'], true), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['s3', 'dynamodb']) }),
    RestorePrepare: () => ({ ...s3(['backups'], []), ...kms(['kms:Decrypt'], ['s3']), ...secrets(targets()) }),
    RestoreLoadBatch: () => ({ ...s3(['backups', 'chunks'], []), ...kms(['kms:Decrypt'], ['s3']), ...secrets(targets()) }),
    RestoreFinish: () => ({ ...s3(['backups', 'chunks'], []), ...kms(['kms:Decrypt'], ['s3']), ...secrets(targets()) }),
    RestoreVerifyBatch: () => ({ ...s3(['backups'], []), ...kms(['kms:Decrypt'], ['s3']), ...secrets(targets()) }),
    RestoreComplete: () => ({ ...s3(['backups'], []), ...catalog(['GetItem', 'UpdateItem']), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['s3', 'dynamodb']), ...secrets(targets()) }),
    RestoreFail: () => ({ ...catalog(['GetItem', 'UpdateItem']), ...kms(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], ['dynamodb']) }),
  };

  it('covers every function', () => {
    expect(Object.keys(expected).sort()).toEqual(Object.keys(functionEntries).sort());
  });

  for (const [name, grant] of Object.entries(expected)) {
    it(`${name}: exactly its task's access`, () => {
      expect(grants(name)).toEqual(JSON.parse(JSON.stringify(grant(), (k, v) => (k === 'Resource' ? [...v].sort() : v))));
    });
  }

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
