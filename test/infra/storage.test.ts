// The repository bucket, its access-log bucket, the key, and the catalog table.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_TABLE } from '../../src/adapters/aws-resources.ts';
import {
  BREAK_GLASS_BUCKET_ACTIONS,
  BREAK_GLASS_KEY_ACTIONS,
  noncurrentVersionDays,
  retentionDays,
} from '../../infra/constructs/repository-protection.ts';
import type { StackPolicies } from '../support/stack-policies.ts';
import { ACCOUNT, BUCKET, decide, deployedPolicies } from './support/simulate.ts';
import { logicalIdOf, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let bucketId: string;
let logBucketId: string;
let keyId: string;
beforeAll(() => {
  // GIVEN the stack synthesized from the example configuration
  s = synthesize();
  bucketId = logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryBucket');
  logBucketId = logicalIdOf(s.template, 'AWS::S3::Bucket', 'RepositoryAccessLogs');
  keyId = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryKey');
});

describe('the repository key', () => {
  it('rotates and outlives the stack', () => {
    s.template.hasResource('AWS::KMS::Key', {
      Properties: Match.objectLike({ EnableKeyRotation: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(s.template.toJSON().Resources[keyId].Properties.EnableKeyRotation).toBe(true);
  });
});

describe('the repository bucket', () => {
  it('is encrypted with the repository key (SSE-KMS, bucket key on)', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] },
            },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
  });

  it('blocks public access, is versioned, owner-enforced, and logs to the log bucket', () => {
    expect(s.template.toJSON().Resources[bucketId]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        VersioningConfiguration: { Status: 'Enabled' },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LoggingConfiguration: { DestinationBucketName: { Ref: logBucketId }, LogFilePrefix: 'repository/' },
      },
    });
  });

  it('has the lifecycle: abort uploads, chunks to IA then Glacier IR, run documents and old versions expire', () => {
    const rules = s.template.toJSON().Resources[bucketId].Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual([
      { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: 'Enabled' },
      {
        Id: 'chunks-to-colder-storage',
        Prefix: 'chunks/',
        Transitions: [
          { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
          { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
        ],
        Status: 'Enabled',
      },
      { Id: 'expire-run-documents', Prefix: 'runs/', ExpirationInDays: 30, Status: 'Enabled' },
      // orders-nightly keeps 12 monthly backups (372 days), + 7 days of verify interval + 1.
      {
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: 380 },
        ExpiredObjectDeleteMarker: true,
        Status: 'Enabled',
      },
    ]);
  });

  it('keeps noncurrent versions longer than the longest retention plus the verify interval', () => {
    // GIVEN collections whose rules keep backups 14 days at most, verified every 3 days
    const config = structuredClone(s.config);
    config.collections[0]!.retention = { keepDaily: 14, keepLast: 3 };
    config.collections[1]!.retention = { keepLast: 28 }; // every 6 h: 7 days
    config.repository.verifyIntervalDays = 3;
    // WHEN synthesized
    const short = synthesize(config);
    const rules =
      short.template.toJSON().Resources[logicalIdOf(short.template, 'AWS::S3::Bucket', 'RepositoryBucket')].Properties
        .LifecycleConfiguration.Rules;
    // THEN old versions stay at least a month (collections the CLI made are not in the file)
    expect(
      rules.find((r: { Id: string }) => r.Id === 'expire-noncurrent-versions').NoncurrentVersionExpiration,
    ).toEqual({ NoncurrentDays: 30 + 3 + 1 });
    // AND with a year of weekly backups, a year and a week (+ verify, + 1)
    config.collections[0]!.retention = { keepWeekly: 52 };
    expect(noncurrentVersionDays(config.collections, 3)).toBe(364 + 3 + 1);
  });

  it.each([
    [{ keepLast: 7 }, 'cron(30 2 * * ? *)', 7],
    [{ keepLast: 28 }, 'rate(6 hours)', 7],
    [{ keepDaily: 14, keepLast: 30 }, 'rate(1 hour)', 14],
    [{ keepWeekly: 5 }, 'rate(1 day)', 35],
    [{ keepMonthly: 12, keepDaily: 7 }, 'rate(1 day)', 372],
  ])('retention %o on %s keeps a backup at most %i days', (retention, expression, days) => {
    expect(retentionDays({ retention, schedule: { expression, timeZone: 'UTC' } })).toBe(days);
  });

  it('refuses plain HTTP and TLS before 1.2 (bucket policy)', () => {
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('uses the configured prefix in its lifecycle rules', () => {
    // GIVEN a repository under "tidemark/" / WHEN synthesized
    const config = { ...s.config, repository: { prefix: 'tidemark/', tierChunks: true, verifyIntervalDays: 7 } };
    const prefixed = synthesize(config);
    // THEN the rules follow the prefix, and the functions are told it
    const id = logicalIdOf(prefixed.template, 'AWS::S3::Bucket', 'RepositoryBucket');
    const prefixes = prefixed.template
      .toJSON()
      .Resources[id].Properties.LifecycleConfiguration.Rules.map((r: { Prefix?: string }) => r.Prefix);
    expect(prefixes).toEqual([undefined, 'tidemark/chunks/', 'tidemark/runs/', undefined]);
    // AND the write-once areas and the marker of the bucket policy
    const statement = (
      prefixed.template.toJSON().Resources[
        logicalIdOf(prefixed.template, 'AWS::S3::BucketPolicy', 'RepositoryBucketPolicy')
      ].Properties.PolicyDocument.Statement as any[]
    ).find((x) => x.Sid === 'DenyOverwritingCommittedObjects');
    expect(statement.Resource.map((r: any) => r['Fn::Join'][1][1]).sort()).toEqual([
      '/tidemark/backups/*',
      '/tidemark/chunks/*',
      '/tidemark/collections/*',
      '/tidemark/segments/*',
      '/tidemark/tidemark.json',
    ]);
    prefixed.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TIDEMARK_PREFIX: 'tidemark/' }) },
    });
    prefixed.template.hasOutput('RepositoryPrefix', { Value: 'tidemark/' });
  });

  it('keeps chunks in S3 Standard when tierChunks is false', () => {
    const standard = synthesize({ ...s.config, repository: { prefix: '', tierChunks: false, verifyIntervalDays: 7 } });
    const id = logicalIdOf(standard.template, 'AWS::S3::Bucket', 'RepositoryBucket');
    const ids = standard.template
      .toJSON()
      .Resources[id].Properties.LifecycleConfiguration.Rules.map((r: { Id: string }) => r.Id);
    expect(ids).toEqual(['abort-incomplete-uploads', 'expire-run-documents', 'expire-noncurrent-versions']);
  });
});

describe('what the bucket and key policies deny, whatever a role is granted', () => {
  let p: StackPolicies;
  const task = `arn:aws:iam::${ACCOUNT.accountId}:role/tidemark-backupcommit`;
  const breakGlass = () => s.config.breakGlassRoleArn;
  const object = (key: string) => `arn:aws:s3:::${BUCKET}/${key}`;
  const put = (key: string, context: Record<string, string>, principal = task) =>
    decide({ principal, action: 's3:PutObject', resource: object(key), context, resourcePolicy: p.bucketPolicy });
  const created = { 's3:ObjectCreationOperation': 'true' };
  const ifNoneMatch = { ...created, 's3:if-none-match': '*' };
  beforeAll(() => {
    p = deployedPolicies(s.template);
  });

  it('the bucket policy denies a PUT without If-None-Match on chunks, backups, collections, segments and the marker, to everyone', () => {
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'DenyOverwritingCommittedObjects',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:PutObject',
            Resource: [
              ...['backups', 'chunks', 'collections', 'segments'].map((area) => `/${area}/*`),
              '/tidemark.json',
            ].map((key) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, key]] })),
            Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
          },
        ]),
      },
    });
  });

  it.each([
    ['a chunk', 'chunks/ab/ab12', 'ExplicitlyDenied'],
    ['a manifest', 'backups/20261121T023000Z-3fa9c1/manifest.json', 'ExplicitlyDenied'],
    ['a commit marker', 'backups/20261121T023000Z-3fa9c1/committed.json', 'ExplicitlyDenied'],
    ['a tombstone', 'backups/20261121T023000Z-3fa9c1/expired.json', 'ExplicitlyDenied'],
    ['a collection', 'collections/orders-nightly.json', 'ExplicitlyDenied'],
    ['the repository marker', 'tidemark.json', 'ExplicitlyDenied'],
    ['a run document (runs/ is not write-once)', 'runs/20261121T023000Z-3fa9c1/plan.json', 'Allowed'],
  ])('a PUT (or CompleteMultipartUpload) of %s without If-None-Match is %s', async (_what, key, decision) => {
    expect(await put(key, created)).toBe(decision);
    // AND with `If-None-Match: *` it is allowed
    expect(await put(key, ifNoneMatch)).toBe('Allowed');
  });

  it('a multipart upload still starts and uploads parts (they cannot carry the header), and completes only with it', async () => {
    // CreateMultipartUpload and UploadPart: s3:PutObject with s3:ObjectCreationOperation false.
    expect(await put('chunks/ab/ab12', { 's3:ObjectCreationOperation': 'false' })).toBe('Allowed');
    expect(await put('chunks/ab/ab12', created)).toBe('ExplicitlyDenied');
  });

  it('a copy into a write-once area is denied (it cannot carry If-None-Match)', async () => {
    expect(
      await put('backups/x/manifest.json', { ...created, 's3:x-amz-copy-source': `${BUCKET}/runs/x/plan.json` }),
    ).toBe('ExplicitlyDenied');
  });

  it('an upload asking for another encryption than the repository key is denied; one asking for none gets the default (the key)', async () => {
    const key = p.account.keyArn;
    expect(await put('runs/x/plan.json', { ...ifNoneMatch, 's3:x-amz-server-side-encryption': 'AES256' })).toBe(
      'ExplicitlyDenied',
    );
    expect(
      await put('runs/x/plan.json', {
        ...ifNoneMatch,
        's3:x-amz-server-side-encryption': 'aws:kms',
        's3:x-amz-server-side-encryption-aws-kms-key-id': key.replace(/key\/.*/, 'key/another'),
      }),
    ).toBe('ExplicitlyDenied');
    expect(
      await put('runs/x/plan.json', { ...ifNoneMatch, 's3:x-amz-server-side-encryption-customer-algorithm': 'AES256' }),
    ).toBe('ExplicitlyDenied');
    expect(
      await put('runs/x/plan.json', {
        ...ifNoneMatch,
        's3:x-amz-server-side-encryption': 'aws:kms',
        's3:x-amz-server-side-encryption-aws-kms-key-id': key,
      }),
    ).toBe('Allowed');
    expect(await put('runs/x/plan.json', ifNoneMatch)).toBe('Allowed');
  });

  it('only the break-glass role may delete an object version; anyone allowed may add a delete marker (gc)', async () => {
    const del = (action: string, principal: string) =>
      decide({ principal, action, resource: object('chunks/ab/ab12'), resourcePolicy: p.bucketPolicy });
    expect(await del('s3:DeleteObjectVersion', task)).toBe('ExplicitlyDenied');
    expect(await del('s3:DeleteObjectVersion', breakGlass())).toBe('Allowed');
    expect(await del('s3:DeleteObject', task)).toBe('Allowed');
  });

  it.each(BREAK_GLASS_BUCKET_ACTIONS.map((a) => [a]))('only the break-glass role may %s', async (action) => {
    const call = (principal: string) =>
      decide({ principal, action, resource: `arn:aws:s3:::${BUCKET}`, resourcePolicy: p.bucketPolicy });
    expect(await call(task)).toBe('ExplicitlyDenied');
    expect(await call(`arn:aws:iam::${ACCOUNT.accountId}:role/Administrator`)).toBe('ExplicitlyDenied');
    expect(await call(breakGlass())).toBe('Allowed');
  });

  it('the key policy denies ScheduleKeyDeletion, DisableKey and PutKeyPolicy to all but the break-glass role', async () => {
    expect(s.template.toJSON().Resources[keyId].Properties.KeyPolicy.Statement).toContainEqual({
      Sid: 'BreakGlassOnlyDisablesOrDeletes',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...BREAK_GLASS_KEY_ACTIONS].sort(),
      Resource: '*',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': s.config.breakGlassRoleArn } },
    });
    const call = (action: string, principal: string) =>
      decide({ principal, action, resource: p.account.keyArn, resourcePolicy: p.keyPolicy });
    for (const action of BREAK_GLASS_KEY_ACTIONS) {
      expect(await call(action, `arn:aws:iam::${ACCOUNT.accountId}:role/Administrator`), action).toBe(
        'ExplicitlyDenied',
      );
      expect(await call(action, breakGlass()), action).toBe('Allowed');
    }
    // AND nothing else is taken from the account's administrators
    expect(await call('kms:Decrypt', `arn:aws:iam::${ACCOUNT.accountId}:role/Administrator`)).toBe('Allowed');
  });
});

describe('the access-log bucket', () => {
  it('is SSE-S3 (log delivery cannot write SSE-KMS), private, TLS-only, and expires logs after a year', () => {
    expect(s.template.toJSON().Resources[logBucketId].Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: { Rules: [{ Id: 'expire-access-logs', ExpirationInDays: 365, Status: 'Enabled' }] },
    });
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logBucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          // Log delivery may write only under the repository bucket's prefix.
          Match.objectLike({
            Effect: 'Allow',
            Action: 's3:PutObject',
            Principal: { Service: 'logging.s3.amazonaws.com' },
          }),
        ]),
      },
    });
  });
});

describe('the catalog table', () => {
  it('has the key schema, GSI and TTL attribute the DynamoDB adapter uses', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: CATALOG_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: CATALOG_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byKind',
          KeySchema: [
            { AttributeName: 'kind', KeyType: 'HASH' },
            { AttributeName: 'startedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('is on-demand, point-in-time recoverable, deletion-protected, retained, and encrypted with the repository key', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      }),
    });
  });
});
