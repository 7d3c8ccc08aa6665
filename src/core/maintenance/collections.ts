// Collections (FORMAT.md, "Collections"): a named series of backups of one database with its
// retention. The definition is written once to `collections/<name>.json` (so `catalog rebuild`
// can restore it) and then indexed in the catalog.
import type { BackupCatalog, BackupRecord, CollectionRecord, RetentionPolicy } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { collectionKind } from '../repository/document-formats.ts';
import { CatalogConflictError, CollectionNotFoundError, UsageError } from '../errors.ts';

export const COLLECTION_FORMAT = collectionKind.format;
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

interface Ports {
  storage: RepositoryStorage;
  catalog: BackupCatalog;
}

export function checkCollectionName(name: string): string {
  if (!NAME.test(name)) {
    throw new UsageError(
      `"${name}" is not a collection name: use 1 to 63 lowercase letters, digits, "-" or "_", starting with a letter or digit.`,
    );
  }
  return name;
}

export function checkRetentionPolicy(policy: RetentionPolicy): RetentionPolicy {
  for (const [rule, count] of Object.entries(policy)) {
    if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
      throw new UsageError(`Retention rule ${rule} must be a whole number of at least 1, not ${count}.`);
    }
  }
  return policy;
}

/**
 * Writes the definition (write-once), then the catalog entry. Repeating an identical create
 * succeeds and keeps the first createdAt; a different definition under the same name is refused.
 */
export async function createCollection(
  ports: Ports,
  definition: Omit<CollectionRecord, 'createdAt'>,
  now = new Date(),
): Promise<CollectionRecord> {
  checkCollectionName(definition.name);
  checkRetentionPolicy(definition.retention);
  if (/:\/\/[^/@]*:[^/@]*@/.test(definition.source)) {
    throw new UsageError(
      `The source of collection ${definition.name} must not hold a password; it is stored in the repository.`,
    );
  }
  // Only the fields that are set: the document and the catalog item then compare equal after a round trip.
  const record = JSON.parse(JSON.stringify({ ...definition, createdAt: now.toISOString() })) as CollectionRecord;
  const place = { name: definition.name };
  const stored = (await writeDocument(ports.storage, collectionKind, place, record))
    ? record
    : await readCollectionDocument(ports.storage, definition.name);
  if (definitionOf(stored) !== definitionOf(record)) {
    throw new CatalogConflictError(
      `Collection ${definition.name} already exists in ${ports.storage.location} with another definition ` +
        `(source ${stored.sourceDescription}, retention ${describeRetention(stored.retention)}, created ${stored.createdAt}). ` +
        'Collections are write-once: choose another name.',
    );
  }
  await ports.catalog.createCollection(stored);
  return stored;
}

export async function readCollectionDocument(storage: RepositoryStorage, name: string): Promise<CollectionRecord> {
  return readDocument(storage, collectionKind, { name });
}

/** The collection and its backups (oldest first), or `CollectionNotFoundError`. */
export async function describeCollection(
  ports: Ports,
  name: string,
): Promise<{ collection: CollectionRecord; backups: BackupRecord[] }> {
  const collection = await findCollection(ports, name);
  const backups = (await ports.catalog.listBackups()).filter((b) => b.collection === name);
  return { collection, backups };
}

export async function findCollection(ports: Ports, name: string): Promise<CollectionRecord> {
  const collection = await ports.catalog.getCollection(name);
  if (!collection) {
    throw new CollectionNotFoundError(
      `Collection ${name} is not in the catalog of ${ports.storage.location}. Run \`tidemark collection list\` to see the collections ` +
        '(after losing the catalog, `tidemark catalog rebuild` brings them back).',
    );
  }
  return collection;
}

export function describeRetention(policy: RetentionPolicy): string {
  const rules = [
    ['last', policy.keepLast],
    ['daily', policy.keepDaily],
    ['weekly', policy.keepWeekly],
    ['monthly', policy.keepMonthly],
  ].filter(([, n]) => n !== undefined);
  return rules.length === 0 ? 'keep everything' : rules.map(([rule, n]) => `keep-${rule} ${n}`).join(', ');
}

/** What makes two creates the same collection: everything but the creation time, in a fixed order. */
function definitionOf(record: CollectionRecord): string {
  const { name, source, sourceDescription, schedule, retention } = record;
  const { keepLast, keepDaily, keepWeekly, keepMonthly } = retention;
  return JSON.stringify({
    name,
    source,
    sourceDescription,
    schedule,
    retention: { keepLast, keepDaily, keepWeekly, keepMonthly },
  });
}
