// The repository bucket, its access-log bucket, the key that encrypts repository data (the
// bucket here; the catalog table uses it too) and the repository key that authenticates its
// documents (a KMS HMAC key: DESIGN.md invariant 10). What their policies deny is in
// repository-protection.ts.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { protectKey, protectRepository } from './repository-protection.ts';

export interface RepositoryStorageProps {
  /** Key prefix of the repository inside the bucket ('' or ending in '/'). */
  readonly prefix: string;
  /**
   * Move chunks to colder storage classes (default true). Each backup HEADs every chunk it
   * writes, and HEAD is billed at the colder class's request price: see docs/deploy.md, "Cost".
   */
  readonly tierChunks?: boolean;
  /** Days an overwritten or deleted object's old version is kept (noncurrentVersionDays()). */
  readonly noncurrentVersionDays: number;
  /** The only principal that may erase history or change the protection (repository-protection.ts). */
  readonly breakGlassRoleArn: string;
}

/** Lifecycle of repository objects, in days. */
export const REPOSITORY_LIFECYCLE = {
  /** A killed upload leaves parts that cost like objects: abort them. */
  abortIncompleteUploadsAfter: 7,
  /**
   * Chunks are written once and read only by restores and verification. Standard-IA after 30
   * days (its minimum), Glacier Instant Retrieval after 90: millisecond reads stay, so a
   * restore needs no thaw step; reads are billed per GB, which a restore can afford.
   */
  chunksToInfrequentAccess: 30,
  chunksToGlacierInstantRetrieval: 90,
  /** runs/<id>/… are hand-offs inside one run (plan, results, snapshot); the manifest holds the rest. */
  runDocumentsExpireAfter: 30,
  /** Access logs, for audits. */
  accessLogsExpireAfter: 365,
} as const;

export class RepositoryStorage extends Construct {
  public readonly key: kms.Key;
  /**
   * The repository key: HMAC-SHA256 over every document Tidemark acts on (kms:GenerateMac for
   * tasks that write documents, kms:VerifyMac for those that read them). It never leaves KMS.
   */
  public readonly macKey: kms.Key;
  public readonly bucket: s3.Bucket;
  public readonly accessLogBucket: s3.Bucket;
  public readonly prefix: string;

  constructor(scope: Construct, id: string, props: RepositoryStorageProps) {
    super(scope, id);
    const days = REPOSITORY_LIFECYCLE;
    this.prefix = props.prefix;

    this.key = new kms.Key(this, 'Key', {
      description: 'Tidemark repository data: the S3 repository bucket and the DynamoDB catalog',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // KMS rotates no HMAC key automatically; a new key would make every document unreadable.
    this.macKey = new kms.Key(this, 'MacKey', {
      description:
        'Tidemark repository key: authenticates repository documents (HMAC-SHA256, kms:GenerateMac / kms:VerifyMac)',
      keySpec: kms.KeySpec.HMAC_256,
      keyUsage: kms.KeyUsage.GENERATE_VERIFY_MAC,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    protectKey(this.macKey, props.breakGlassRoleArn);

    // Server access logs cannot be delivered to an SSE-KMS bucket: this one uses SSE-S3.
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(days.accessLogsExpireAfter) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of one KMS request per object: chunks are many.
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'repository/',
      lifecycleRules: [
        {
          id: 'abort-incomplete-uploads',
          abortIncompleteMultipartUploadAfter: Duration.days(days.abortIncompleteUploadsAfter),
        },
        ...((props.tierChunks ?? true)
          ? [
              {
                id: 'chunks-to-colder-storage',
                prefix: `${props.prefix}chunks/`,
                transitions: [
                  {
                    storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(days.chunksToInfrequentAccess),
                  },
                  {
                    storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                    transitionAfter: Duration.days(days.chunksToGlacierInstantRetrieval),
                  },
                ],
              },
            ]
          : []),
        {
          id: 'expire-run-documents',
          prefix: `${props.prefix}runs/`,
          expiration: Duration.days(days.runDocumentsExpireAfter),
        },
        // Deletes happen by mistake, by an intruder, or by gc: old versions outlive retention.
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    protectRepository({
      bucket: this.bucket,
      key: this.key,
      prefix: this.prefix,
      breakGlassRoleArn: props.breakGlassRoleArn,
    });
  }
}
