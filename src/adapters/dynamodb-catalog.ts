// BackupCatalog in one DynamoDB table, with single-item conditional writes only (no
// transactions), so it keeps the file catalog's semantics. Items (key names in aws-resources.ts):
//   pk `BACKUP#<backupId>`   sk `BACKUP`     kind `backup`      startedAt …  + every BackupRecord field
//   pk `RESTORE#<restoreId>` sk `RESTORE`    kind `restore`     startedAt …  + every RestoreRecord field
//   pk `COLLECTION#<name>`   sk `COLLECTION` kind `collection`  startedAt = createdAt + every CollectionRecord field
//   pk `LEASE#<name>`        sk `LEASE`      name owner purpose acquiredAt leaseExpiresAt leaseExpiresAtMs
// Records: dynamodb-catalog/items.ts; leases: leases.ts; keys, paging and SDK errors: table.ts.
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BackupNotFoundError, CatalogConflictError } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, CollectionRecord, Lease, RestoreRecord } from '#core/ports/catalog.ts';
import { CatalogItems, compare } from '#adapters/dynamodb-catalog/items.ts';
import { CatalogLeases } from '#adapters/dynamodb-catalog/leases.ts';
import { CatalogTable } from '#adapters/dynamodb-catalog/table.ts';

export { createCatalogTable } from '#adapters/dynamodb-catalog/table.ts';

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };

export interface DynamoDbCatalogOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export class DynamoDbCatalog implements BackupCatalog {
  readonly location: string;
  private readonly backups: CatalogItems<BackupRecord>;
  private readonly restores: CatalogItems<RestoreRecord>;
  private readonly collections: CatalogItems<CollectionRecord>;
  private readonly leases: CatalogLeases;

  constructor(options: DynamoDbCatalogOptions) {
    this.location = `dynamodb://${options.tableName}`;
    const table = new CatalogTable(options.client, options.tableName, this.location);
    this.backups = new CatalogItems(table, 'backup', (r) => r.backupId, (id) =>
      new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`));
    this.restores = new CatalogItems(table, 'restore', (r) => r.restoreId, (id) =>
      new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`));
    // A collection has no startedAt, the index's sort key: it is listed by its createdAt.
    this.collections = new CatalogItems(table, 'collection', (r) => r.name, (id) =>
      new CatalogConflictError(`Collection ${id} is not in the catalog at ${this.location}.`), (r) => r.createdAt);
    this.leases = new CatalogLeases(table);
  }

  createBackup(record: BackupRecord): Promise<void> { return this.backups.create(record); }
  finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> { return this.backups.transition(backupId, 'running', { ...changes, backupId }); }
  getBackup(backupId: string): Promise<BackupRecord | undefined> { return this.backups.get(backupId); }
  async listBackups(): Promise<BackupRecord[]> {
    // The index orders by startedAt text only; ties and mixed UTC offsets need the full order.
    return (await this.backups.list()).sort(byStartTime);
  }
  /**
   * Not through the index (eventually consistent: a backup that registered a moment ago may be
   * missing), but a strongly consistent Scan of the table itself, for gc (FORMAT.md, "Garbage
   * collection"). It reads every item, so it costs more than a Query; gc is the only caller.
   */
  async listRunningBackups(): Promise<BackupRecord[]> {
    return (await this.backups.scanConsistent('state', 'running')).sort(byStartTime);
  }
  createRestore(record: RestoreRecord): Promise<void> { return this.restores.create(record); }
  finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> { return this.restores.transition(restoreId, 'running', { ...changes, restoreId }); }
  getRestore(restoreId: string): Promise<RestoreRecord | undefined> { return this.restores.get(restoreId); }
  expireBackup(backupId: string, expiredAt: string): Promise<BackupRecord> { return this.backups.transition(backupId, 'committed', { state: 'expired', expiredAt }); }
  /** create already writes the record in whatever state it has. */
  importBackup(record: BackupRecord): Promise<void> { return this.backups.create(record); }
  createCollection(record: CollectionRecord): Promise<void> { return this.collections.create(record); }
  getCollection(name: string): Promise<CollectionRecord | undefined> { return this.collections.get(name); }
  async listCollections(): Promise<CollectionRecord[]> { return (await this.collections.list()).sort((a, b) => compare(a.name, b.name)); }

  acquireLease(lease: Lease, now: Date): Promise<Lease | undefined> { return this.leases.acquire(lease, now); }
  getLease(name: string): Promise<Lease | undefined> { return this.leases.get(name); }
  releaseLease(name: string, owner: string): Promise<void> { return this.leases.release(name, owner); }
}

/** Oldest first: by instant, then startedAt text, then id (the file catalog's order). */
function byStartTime(a: BackupRecord, b: BackupRecord): number {
  return Date.parse(a.startedAt) - Date.parse(b.startedAt) || compare(a.startedAt, b.startedAt) || compare(a.backupId, b.backupId);
}
