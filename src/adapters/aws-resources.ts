// The names that tie the Lambda functions to the resources CDK creates: environment variables
// and the catalog table's key schema. Both the adapters and infra/ import them from here.

/** Environment of every task function. */
export const FUNCTION_ENV = {
  /** Repository bucket name. */
  bucket: 'TIDEMARK_BUCKET',
  /** Key prefix of the repository inside the bucket ('' for the bucket root). */
  prefix: 'TIDEMARK_PREFIX',
  /** DynamoDB catalog table name. */
  catalogTable: 'TIDEMARK_CATALOG_TABLE',
  /** ARN of the KMS HMAC key that authenticates repository documents (the repository key). */
  macKeyArn: 'TIDEMARK_KMS_MAC_KEY_ARN',
} as const;

/** DynamoDB catalog: one table, single-item conditional writes only (no transactions). */
export const CATALOG_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** GSI listing items of one kind (backups, restores) in start order. */
  listIndex: 'byKind',
  listIndexPartitionKey: 'kind',
  listIndexSortKey: 'startedAt',
  /** Epoch seconds after which DynamoDB may delete a transient item. */
  ttlAttribute: 'expiresAt',
} as const;
