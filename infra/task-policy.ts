// Turns a task's access (task-profiles.ts) into IAM statements on this stack's resources only.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { CATALOG_TABLE } from '../src/adapters/aws-resources.ts';
import { REPOSITORY_MARKER_KEY } from '../src/core/repository/layout.ts';
import type { RepositoryArea, TaskAccess } from './task-profiles.ts';
import { readsDocuments, writesDocuments } from '../functions/runtime/task-profile.ts';

export interface TaskResources {
  readonly bucket: s3.IBucket;
  /** Repository key prefix inside the bucket ('' or ending in '/'). */
  readonly prefix: string;
  readonly table: dynamodb.ITable;
  /** The key that encrypts the bucket and the table. */
  readonly key: kms.IKey;
  /** The repository key: the HMAC key that authenticates documents. */
  readonly macKey: kms.IKey;
  readonly sourceSecretArns: readonly string[];
  readonly restoreTargetSecretArns: readonly string[];
}

/** Object ARN pattern of one repository area. */
export function areaObjects(bucket: s3.IBucket, prefix: string, area: RepositoryArea): string {
  return bucket.arnForObjects(`${prefix}${area}/*`);
}

/** ARN of the repository marker, the one object outside every area. */
export function markerObject(bucket: s3.IBucket, prefix: string): string {
  return bucket.arnForObjects(`${prefix}${REPOSITORY_MARKER_KEY}`);
}

export function taskStatements(access: TaskAccess, r: TaskResources): iam.PolicyStatement[] {
  const statements: iam.PolicyStatement[] = [];
  const read = access.read ?? [];
  const check = access.check ?? [];
  const write = access.write ?? [];
  const catalog = access.catalog ?? [];
  const readable = [...new Set([...read, ...check])];
  const marker = access.marker === true;
  /** Reads the marker before its first document (aws-context.ts): every reader of documents. */
  const markerRead = readsDocuments(access);
  if (readable.length > 0) {
    statements.push(
      // HEAD is authorized by s3:GetObject too; only a GET of a body needs the key (below).
      new iam.PolicyStatement({
        sid: 'RepositoryRead',
        actions: ['s3:GetObject'],
        resources: readable.map((a) => areaObjects(r.bucket, r.prefix, a)),
      }),
    );
  }
  if (readable.length > 0 || markerRead) {
    // Without ListBucket, S3 answers a missing key with 403 instead of 404, and "not found"
    // is how the tasks learn a snapshot, a batch result or the marker does not exist yet.
    statements.push(
      new iam.PolicyStatement({ sid: 'RepositoryList', actions: ['s3:ListBucket'], resources: [r.bucket.bucketArn] }),
    );
  }
  if (write.length > 0) {
    // PutObject covers multipart uploads; Abort lets a failed upload clean up after itself.
    statements.push(
      new iam.PolicyStatement({
        sid: 'RepositoryWrite',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: write.map((a) => areaObjects(r.bucket, r.prefix, a)),
      }),
    );
  }
  if (markerRead) {
    // Read; with `marker`, put once too (If-None-Match: the bucket policy denies any other PUT of
    // it); a few hundred bytes, never a multipart upload.
    statements.push(
      new iam.PolicyStatement({
        sid: 'RepositoryMarker',
        actions: marker ? ['s3:GetObject', 's3:PutObject'] : ['s3:GetObject'],
        resources: [markerObject(r.bucket, r.prefix)],
      }),
    );
  }
  const deletable = access.delete ?? [];
  if (deletable.length > 0) {
    // Versioned bucket: a delete leaves a noncurrent version, kept past the longest retention.
    statements.push(
      new iam.PolicyStatement({
        sid: 'RepositoryDelete',
        actions: ['s3:DeleteObject'],
        resources: deletable.map((a) => areaObjects(r.bucket, r.prefix, a)),
      }),
    );
  }
  if (catalog.length > 0) {
    const tableArn = r.table.tableArn;
    const resources = catalog.includes('Query')
      ? [tableArn, `${tableArn}/index/${CATALOG_TABLE.listIndex}`]
      : [tableArn];
    statements.push(
      new iam.PolicyStatement({ sid: 'Catalog', actions: catalog.map((a) => `dynamodb:${a}`), resources }),
    );
  }
  const kmsActions = new Set<string>();
  const services: string[] = [];
  const region = Stack.of(r.table).region;
  if (read.length > 0 || write.length > 0 || markerRead) {
    services.push(`s3.${region}.amazonaws.com`);
    if (read.length > 0 || markerRead) kmsActions.add('kms:Decrypt');
    // A multipart upload's completion decrypts its parts' data keys.
    if (write.length > 0) kmsActions.add('kms:Decrypt');
    if (write.length > 0 || marker) kmsActions.add('kms:GenerateDataKey');
  }
  if (catalog.length > 0) {
    services.push(`dynamodb.${region}.amazonaws.com`);
    kmsActions.add('kms:Decrypt').add('kms:DescribeKey');
    if (catalog.includes('PutItem') || catalog.includes('UpdateItem'))
      kmsActions.add('kms:Encrypt').add('kms:GenerateDataKey');
  }
  if (kmsActions.size > 0) {
    // Only through S3 / DynamoDB: the functions never call KMS themselves.
    statements.push(
      new iam.PolicyStatement({
        sid: 'RepositoryKey',
        actions: [...kmsActions].sort(),
        resources: [r.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': services } },
      }),
    );
  }
  // The tasks call KMS themselves for these (no kms:ViaService): a writer of documents MACs
  // them, a reader verifies them; neither gets the other.
  const macActions = [
    ...(writesDocuments(access) ? ['kms:GenerateMac'] : []),
    ...(readsDocuments(access) ? ['kms:VerifyMac'] : []),
  ];
  if (macActions.length > 0) {
    statements.push(
      new iam.PolicyStatement({ sid: 'DocumentAuthentication', actions: macActions, resources: [r.macKey.keyArn] }),
    );
  }
  if (access.databases) {
    const secrets = access.databases === 'sources' ? r.sourceSecretArns : r.restoreTargetSecretArns;
    statements.push(
      new iam.PolicyStatement({
        sid: 'DatabaseCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [...secrets],
      }),
    );
  }
  return statements;
}
