// Cloud mode's `list` and `show`: the stack's DynamoDB catalog, read through the same adapter the
// Lambda functions write with. `show` adds the per-table detail from the manifest in S3 (checked
// on read like everywhere else); without S3 access it shows the catalog record and says why.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbCatalog } from '#adapters/dynamodb-catalog.ts';
import type { BackupCatalog, BackupRecord } from '#core/ports/catalog.ts';
import { BackupNotFoundError, CatalogConflictError } from '#core/errors.ts';
import { findCommittedBackup } from '#core/restore/resolve.ts';
import { readManifest, type Manifest } from '#core/repository/manifest.ts';
import { qualifiedName } from '#core/sql.ts';
import { S3Storage, createS3Client } from '#adapters/s3-storage.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';
import type { TidemarkStack } from './stack.ts';

export function openCatalog(stack: TidemarkStack): BackupCatalog {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: stack.region }));
  return new DynamoDbCatalog({ client, tableName: stack.catalogTableName });
}

export function repositoryUrl(stack: TidemarkStack): string {
  return `s3://${stack.repositoryBucketName}/${stack.repositoryPrefix}`;
}

function openRepository(stack: TidemarkStack): S3Storage {
  // createS3Client turns on path-style addressing only for an explicit endpoint (local servers).
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  return new S3Storage({ client: createS3Client({ region: stack.region, endpoint }), bucket: stack.repositoryBucketName, prefix: stack.repositoryPrefix });
}

/**
 * The committed record of a backup whose execution succeeded. Commit writes it before the
 * execution ends, so a short wait only covers a read that lands on a lagging replica.
 */
export async function waitForBackupRecord(catalog: BackupCatalog, backupId: string, timeoutMs = 10_000): Promise<BackupRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await catalog.getBackup(backupId);
    if (record?.state === 'committed' && record.stats) return record;
    if (Date.now() > deadline) {
      throw new CatalogConflictError(`Backup ${backupId}'s execution succeeded, but its catalog record is ${record ? record.state : 'missing'}. Check the catalog table.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export async function listBackups(stack: TidemarkStack, options: { json?: boolean }): Promise<void> {
  const backups = await openCatalog(stack).listBackups();
  if (options.json) {
    printJson(backups.map((b) => ({ ...b, bytesStored: b.stats?.bytesStored, bytesReferenced: b.stats?.bytesReferenced })));
    return;
  }
  if (backups.length === 0) {
    say(`No backups in stack ${stack.name} yet.`);
    return;
  }
  printTable(
    ['BACKUP', 'STATE', 'STARTED', 'TABLES', 'ROWS', 'STORED', 'REFERENCED', 'SOURCE'],
    backups.map((b) => [
      b.backupId,
      b.state,
      b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      b.stats ? formatCount(b.stats.tables) : '',
      b.stats ? formatCount(b.stats.rows) : '',
      b.stats ? formatBytes(b.stats.bytesStored) : '',
      b.stats ? formatBytes(b.stats.bytesReferenced) : '',
      b.source,
    ]),
  );
}

export async function showBackup(stack: TidemarkStack, backupId: string, options: { json?: boolean }): Promise<void> {
  const catalog = openCatalog(stack);
  const where = `stack ${stack.name}`;
  const record = backupId === 'latest' ? await findCommittedBackup(catalog, 'latest', where) : await catalog.getBackup(backupId);
  if (!record) throw new BackupNotFoundError(`Backup ${backupId} is not in the catalog of ${where}. Run \`tidemark --stack ${stack.name} list\` to see the backups.`);
  let manifest: Manifest | undefined;
  if (record.state === 'committed') {
    manifest = await readManifest(openRepository(stack), record.backupId).catch((err: Error) => {
      say(`warning: showing the catalog record only; the manifest in ${repositoryUrl(stack)} could not be read: ${err.message}`);
      return undefined;
    });
  }
  const tables = manifest?.tables.map((t) => ({ table: qualifiedName(t.schema, t.name), rows: t.rows, bytes: t.bytes, chunks: t.chunks.length, storedBytes: t.chunks.reduce((s, c) => s + c.storedSize, 0) }));
  if (options.json) {
    printJson({ ...record, bytesStored: record.stats?.bytesStored, bytesReferenced: record.stats?.bytesReferenced, repository: repositoryUrl(stack), tables });
    return;
  }
  const lines = [
    `Backup      ${record.backupId}`,
    `State       ${record.state}${record.error ? ` (${record.error})` : ''}`,
    `Source      ${record.source}${record.serverVersion ? ` (PostgreSQL ${record.serverVersion})` : ''}`,
    `Started     ${record.startedAt}`,
    `Finished    ${record.finishedAt ?? '-'}`,
  ];
  if (record.snapshotTime) lines.push(`Snapshot    ${record.snapshotTime} at LSN ${record.snapshotLsn ?? '-'}`);
  const stats = record.stats;
  if (stats) {
    lines.push(`Contents    ${formatCount(stats.tables)} tables, ${formatCount(stats.rows)} rows, ${formatBytes(stats.bytesRead)} of COPY text`);
    lines.push(`Stored      ${formatBytes(stats.bytesStored)} new, ${formatBytes(stats.bytesReferenced)} referenced, ${formatCount(stats.chunks)} chunks`);
  }
  lines.push(`Repository  ${repositoryUrl(stack)}`);
  for (const line of lines) process.stdout.write(line + '\n');
  if (tables && tables.length > 0) {
    process.stdout.write('\n');
    printTable(['TABLE', 'ROWS', 'SIZE', 'CHUNKS', 'STORED'], tables.map((t) => [t.table, formatCount(t.rows), formatBytes(t.bytes), String(t.chunks), formatBytes(t.storedBytes)]));
  }
  for (const warning of record.warnings ?? []) say(`warning: ${warning}`);
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
}
