// What AWS itself enforces on the repository, whatever a role is granted (issue 14, item 2):
// committed objects are written once, every upload is encrypted with the repository key, and
// only the break-glass role may erase history (object versions, lifecycle, versioning, the
// bucket policy) or disable, delete or re-policy the data key or the repository (MAC) key.
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { CollectionConfig } from '../config.ts';
import { longestIntervalMinutes } from '../schedule-expression.ts';
import { REPOSITORY_MARKER_KEY } from '../../src/core/repository/layout.ts';

/**
 * Areas whose objects are never rewritten (DESIGN.md invariant 2): chunks, manifests and their
 * committed / expired (tombstone) markers under backups/, collection definitions, change
 * segments. runs/ is excluded: its hand-off documents are per run and expire after 30 days.
 * The repository marker (tidemark.json, outside every area) is never rewritten either.
 */
export const WRITE_ONCE_AREAS = ['chunks', 'backups', 'collections', 'segments'] as const;

/** S3 bucket-level actions that could erase the repository's history or protection. */
export const BREAK_GLASS_BUCKET_ACTIONS = [
  's3:PutLifecycleConfiguration',
  's3:PutBucketVersioning',
  's3:PutBucketPolicy',
  // Deleting the policy would remove every statement here at once.
  's3:DeleteBucketPolicy',
  's3:PutBucketObjectLockConfiguration',
  // Changing the default encryption would let header-less PUTs escape the repository key.
  's3:PutEncryptionConfiguration',
];
export const BREAK_GLASS_KEY_ACTIONS = ['kms:ScheduleKeyDeletion', 'kms:DisableKey', 'kms:PutKeyPolicy'];

const everyone = [new iam.AnyPrincipal()];

export interface RepositoryProtectionProps {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;
  /** Key prefix of the repository ('' or ending in '/'). */
  readonly prefix: string;
  readonly breakGlassRoleArn: string;
}

export function protectRepository({ bucket, key, prefix, breakGlassRoleArn }: RepositoryProtectionProps): void {
  const notBreakGlass = { ArnNotEquals: { 'aws:PrincipalArn': breakGlassRoleArn } };
  const statements = [
    // A PUT or a multipart completion without `If-None-Match: *` could replace a committed
    // object. CreateMultipartUpload and UploadPart cannot carry the header, and S3 sets
    // s3:ObjectCreationOperation to false for them, so they stay allowed; the completion (which
    // S3 authorizes as s3:PutObject, with the key true) is denied without it. CopyObject into
    // these areas is denied too (AWS documents it), and nothing copies there.
    new iam.PolicyStatement({
      sid: 'DenyOverwritingCommittedObjects',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: ['s3:PutObject'],
      resources: [
        ...WRITE_ONCE_AREAS.map((area) => bucket.arnForObjects(`${prefix}${area}/*`)),
        bucket.arnForObjects(`${prefix}${REPOSITORY_MARKER_KEY}`),
      ],
      conditions: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    }),
    // The bucket's default encryption covers PUTs that name none (the tasks send no encryption
    // header); these refuse a PUT that asks for anything but this key. Null false + StringNotEquals
    // is "present and different": ...IfExists would hold for an absent header, and deny the tasks.
    new iam.PolicyStatement({
      sid: 'DenyUploadsNotUnderKms',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('*')],
      conditions: {
        Null: { 's3:x-amz-server-side-encryption': 'false' },
        StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
      },
    }),
    // The condition key holds a key ARN (IAM type ARN): name the key by its ARN if at all.
    new iam.PolicyStatement({
      sid: 'DenyUploadsUnderOtherKeys',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('*')],
      conditions: {
        Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
        ArnNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': key.keyArn },
      },
    }),
    new iam.PolicyStatement({
      sid: 'DenyUploadsUnderCustomerKeys',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('*')],
      conditions: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' } },
    }),
    // A plain DeleteObject in a versioned bucket only adds a delete marker (gc relies on it);
    // removing a version is what destroys data.
    new iam.PolicyStatement({
      sid: 'BreakGlassOnlyDeletesVersions',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: ['s3:DeleteObjectVersion'],
      resources: [bucket.arnForObjects('*')],
      conditions: notBreakGlass,
    }),
    new iam.PolicyStatement({
      sid: 'BreakGlassOnlyChangesProtection',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: BREAK_GLASS_BUCKET_ACTIONS,
      resources: [bucket.bucketArn],
      conditions: notBreakGlass,
    }),
  ];
  for (const statement of statements) bucket.addToResourcePolicy(statement);

  protectKey(key, breakGlassRoleArn);
}

/** Only the break-glass role may disable, schedule the deletion of, or re-policy `key`. */
export function protectKey(key: kms.Key, breakGlassRoleArn: string): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'BreakGlassOnlyDisablesOrDeletes',
      effect: iam.Effect.DENY,
      principals: everyone,
      actions: BREAK_GLASS_KEY_ACTIONS,
      resources: ['*'],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': breakGlassRoleArn } },
    }),
  );
}

/** Days one collection's retention rules can keep a backup (the newest, kept always, aside). */
export function retentionDays(collection: Pick<CollectionConfig, 'retention' | 'schedule'>): number {
  const { keepLast = 0, keepDaily = 0, keepWeekly = 0, keepMonthly = 0 } = collection.retention;
  const lastDays = (keepLast * longestIntervalMinutes(collection.schedule.expression)) / 1440;
  return Math.ceil(Math.max(lastDays, keepDaily, 7 * keepWeekly, 31 * keepMonthly));
}

/**
 * How long a noncurrent version (an overwritten or deleted object) stays: longer than any
 * backup is retained plus one verify interval, so an object deleted the day its backup was made
 * can still be restored when `tidemark verify` notices, for as long as that backup should live.
 */
export function noncurrentVersionDays(
  collections: readonly Pick<CollectionConfig, 'retention' | 'schedule'>[],
  verifyIntervalDays: number,
): number {
  // Collections made with the CLI are not in the configuration: never less than a month for them.
  const longest = Math.max(MIN_RETENTION_DAYS, ...collections.map(retentionDays));
  return longest + verifyIntervalDays + 1;
}

const MIN_RETENTION_DAYS = 30;
