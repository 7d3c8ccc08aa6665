// An alert on any attempt — allowed or denied — to erase the repository's history or its
// protection: CloudTrail records the API call, EventBridge's default bus receives it as
// "AWS API Call via CloudTrail", and these rules send it to the alert topic. It needs a
// CloudTrail trail in the account (management events for the bucket settings and the key;
// S3 data events on the bucket for version deletions): docs/deploy.md, "Tamper alerts".
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { Monitoring } from './monitoring.ts';

/** CloudTrail event names of the break-glass-only actions (repository-protection.ts). */
export const TAMPER_EVENTS = {
  // PutLifecycleConfiguration, PutEncryptionConfiguration and PutBucketObjectLockConfiguration
  // appear in CloudTrail under their older API names.
  bucket: [
    'PutBucketLifecycle',
    'PutBucketVersioning',
    'PutBucketPolicy',
    'DeleteBucketPolicy',
    'PutObjectLockConfiguration',
    'PutBucketEncryption',
  ],
  key: ['ScheduleKeyDeletion', 'DisableKey', 'PutKeyPolicy'],
} as const;

const API_CALL = 'AWS API Call via CloudTrail';

export interface TamperAlertsProps {
  readonly bucket: s3.IBucket;
  readonly key: kms.IKey;
  /** The repository key (HMAC): disabling or deleting it would make every document unreadable. */
  readonly macKey: kms.IKey;
  readonly monitoring: Monitoring;
}

export class TamperAlerts extends Construct {
  public readonly bucketRule: events.Rule;
  public readonly versionDeletionRule: events.Rule;
  public readonly keyRule: events.Rule;

  constructor(scope: Construct, id: string, props: TamperAlertsProps) {
    super(scope, id);
    this.bucketRule = new events.Rule(this, 'BucketSettings', {
      description:
        "Tidemark: an attempt to change the repository bucket's lifecycle, versioning, policy, Object Lock or encryption",
      eventPattern: {
        source: ['aws.s3'],
        detailType: [API_CALL],
        detail: {
          eventSource: ['s3.amazonaws.com'],
          eventName: [...TAMPER_EVENTS.bucket],
          requestParameters: { bucketName: [props.bucket.bucketName] },
        },
      },
    });
    // A data event: seen only when the trail logs S3 data events for the bucket.
    this.versionDeletionRule = new events.Rule(this, 'VersionDeletions', {
      description: 'Tidemark: an attempt to delete an object version from the repository bucket',
      eventPattern: {
        source: ['aws.s3'],
        detailType: [API_CALL],
        detail: {
          eventSource: ['s3.amazonaws.com'],
          eventName: ['DeleteObject'],
          requestParameters: { bucketName: [props.bucket.bucketName], versionId: [{ exists: true }] },
        },
      },
    });
    // These three KMS operations take the key id or its ARN, never an alias.
    this.keyRule = new events.Rule(this, 'KeyChanges', {
      description:
        'Tidemark: an attempt to disable, schedule the deletion of, or re-policy the data key or the repository (MAC) key',
      eventPattern: {
        source: ['aws.kms'],
        detailType: [API_CALL],
        detail: {
          eventSource: ['kms.amazonaws.com'],
          eventName: [...TAMPER_EVENTS.key],
          requestParameters: { keyId: [props.key.keyId, props.key.keyArn, props.macKey.keyId, props.macKey.keyArn] },
        },
      },
    });
    for (const rule of [this.bucketRule, this.versionDeletionRule, this.keyRule])
      props.monitoring.publishEventsFrom(rule);
  }
}
