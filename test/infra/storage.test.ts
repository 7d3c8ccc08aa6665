// The repository bucket, its access-log bucket, the key, and the catalog table.
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_TABLE } from '../../src/adapters/aws-resources.ts';
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
    s.template.hasResource('AWS::KMS::Key', { Properties: Match.objectLike({ EnableKeyRotation: true }), DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(s.template.toJSON().Resources[keyId].Properties.EnableKeyRotation).toBe(true);
  });
});

describe('the repository bucket', () => {
  it('is encrypted with the repository key (SSE-KMS, bucket key on)', () => {
    s.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } }, BucketKeyEnabled: true },
        ],
      },
    });
  });

  it('blocks public access, is versioned, owner-enforced, and logs to the log bucket', () => {
    expect(s.template.toJSON().Resources[bucketId]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
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
      { Id: 'expire-noncurrent-versions', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, ExpiredObjectDeleteMarker: true, Status: 'Enabled' },
    ]);
  });

  it('refuses plain HTTP and TLS before 1.2 (bucket policy)', () => {
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  it('uses the configured prefix in its lifecycle rules', () => {
    // GIVEN a repository under "tidemark/" / WHEN synthesized
    const config = { ...s.config, repository: { prefix: 'tidemark/', tierChunks: true } };
    const prefixed = synthesize(config);
    // THEN the rules follow the prefix, and the functions are told it
    const id = logicalIdOf(prefixed.template, 'AWS::S3::Bucket', 'RepositoryBucket');
    const prefixes = prefixed.template.toJSON().Resources[id].Properties.LifecycleConfiguration.Rules.map((r: { Prefix?: string }) => r.Prefix);
    expect(prefixes).toEqual([undefined, 'tidemark/chunks/', 'tidemark/runs/', undefined]);
    prefixed.template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ TIDEMARK_PREFIX: 'tidemark/' }) } });
    prefixed.template.hasOutput('RepositoryPrefix', { Value: 'tidemark/' });
  });

  it('keeps chunks in S3 Standard when tierChunks is false', () => {
    const standard = synthesize({ ...s.config, repository: { prefix: '', tierChunks: false } });
    const id = logicalIdOf(standard.template, 'AWS::S3::Bucket', 'RepositoryBucket');
    const ids = standard.template.toJSON().Resources[id].Properties.LifecycleConfiguration.Rules.map((r: { Id: string }) => r.Id);
    expect(ids).toEqual(['abort-incomplete-uploads', 'expire-run-documents', 'expire-noncurrent-versions']);
  });
});

describe('the access-log bucket', () => {
  it('is SSE-S3 (log delivery cannot write SSE-KMS), private, TLS-only, and expires logs after a year', () => {
    expect(s.template.toJSON().Resources[logBucketId].Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LifecycleConfiguration: { Rules: [{ Id: 'expire-access-logs', ExpirationInDays: 365, Status: 'Enabled' }] },
    });
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logBucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          // Log delivery may write only under the repository bucket's prefix.
          Match.objectLike({ Effect: 'Allow', Action: 's3:PutObject', Principal: { Service: 'logging.s3.amazonaws.com' } }),
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
