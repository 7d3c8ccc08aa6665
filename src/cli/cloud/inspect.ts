// Cloud mode's `list` and `show`: the stack's DynamoDB catalog, read through the same adapter the
// Lambda functions write with. `show` adds the per-table detail from the manifest in S3 (checked
// on read like everywhere else); without S3 access it shows the catalog record and says why.
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbCatalog, createDynamoDbClient } from '#adapters/dynamodb-catalog.ts';
import type { BackupCatalog, BackupRecord } from '#core/ports/catalog.ts';
import { BackupNotFoundError, CatalogConflictError } from '#core/errors.ts';
import { findCommittedBackup } from '#core/restore/resolve.ts';
import { readManifest, type Manifest } from '#core/repository/manifest.ts';
import { S3Storage, createS3Client } from '#adapters/s3-storage.ts';
import { KMSClient } from '@aws-sdk/client-kms';
import { KmsDocumentKey } from '#adapters/kms-document-key.ts';
import { authenticateWith } from '#core/repository/repository-key.ts';
import { say } from '../output.ts';
import { printBackupDetails, printBackupList } from '../report.ts';
import type { TidemarkStack } from './stack.ts';

export function openCatalog(stack: TidemarkStack): BackupCatalog {
  const client = DynamoDBDocumentClient.from(createDynamoDbClient({ region: stack.region }));
  return new DynamoDbCatalog({ client, tableName: stack.catalogTableName });
}

export function repositoryUrl(stack: TidemarkStack): string {
  return `s3://${stack.repositoryBucketName}/${stack.repositoryPrefix}`;
}

function openRepository(stack: TidemarkStack): S3Storage {
  // createS3Client turns on path-style addressing only for an explicit endpoint (local servers).
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  const storage = new S3Storage({
    client: createS3Client({ region: stack.region, endpoint }),
    bucket: stack.repositoryBucketName,
    prefix: stack.repositoryPrefix,
  });
  // The manifests the tasks wrote carry MACs by the stack's key: `show` checks them with it.
  if (stack.repositoryMacKeyArn)
    authenticateWith(
      storage,
      new KmsDocumentKey({ client: new KMSClient({ region: stack.region }), keyArn: stack.repositoryMacKeyArn }),
    );
  return storage;
}

/**
 * The committed record of a backup whose execution succeeded. Commit writes it before the
 * execution ends, so a short wait only covers a read that lands on a lagging replica.
 */
export async function waitForBackupRecord(
  catalog: BackupCatalog,
  backupId: string,
  timeoutMs = 10_000,
): Promise<BackupRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await catalog.getBackup(backupId);
    if (record?.state === 'committed' && record.stats) return record;
    if (Date.now() > deadline) {
      throw new CatalogConflictError(
        `Backup ${backupId}'s execution succeeded, but its catalog record is ${record ? record.state : 'missing'}. Check the catalog table.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function listBackups(stack: TidemarkStack, options: { json?: boolean }): Promise<void> {
  printBackupList(await openCatalog(stack).listBackups(), { json: options.json, where: `stack ${stack.name}` });
}

export async function showBackup(stack: TidemarkStack, backupId: string, options: { json?: boolean }): Promise<void> {
  const catalog = openCatalog(stack);
  const where = `stack ${stack.name}`;
  const record =
    backupId === 'latest' ? await findCommittedBackup(catalog, 'latest', where) : await catalog.getBackup(backupId);
  if (!record)
    throw new BackupNotFoundError(
      `Backup ${backupId} is not in the catalog of ${where}. Run \`tidemark --stack ${stack.name} list\` to see the backups.`,
    );
  let manifest: Manifest | undefined;
  if (record.state === 'committed') {
    manifest = await readManifest(openRepository(stack), record.backupId).catch((err: Error) => {
      say(
        `warning: showing the catalog record only; the manifest in ${repositoryUrl(stack)} could not be read: ${err.message}`,
      );
      return undefined;
    });
  }
  printBackupDetails(record, manifest, { json: options.json, repository: repositoryUrl(stack) });
}
