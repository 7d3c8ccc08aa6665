// `tidemark collection create | list | show`: define a series of backups of one database with its
// retention, and look at it. The password of --source is never stored or printed.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { describeUrl, withoutPassword } from '#adapters/postgres/connector.ts';
import type { CollectionRecord, RetentionPolicy } from '#core/ports/catalog.ts';
import {
  checkCollectionName,
  createCollection,
  describeCollection,
  describeRetention,
} from '#core/maintenance/collections.ts';
import { UsageError } from '#core/errors.ts';
import { formatBytes, printJson, say } from '../output.ts';
import { printTable } from '../report.ts';

interface CommonOptions {
  repo?: string;
  catalog?: string;
  json?: boolean;
}

export interface CollectionCreateOptions extends CommonOptions {
  source?: string;
  schedule?: string;
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export async function collectionCreateCommand(name: string, options: CollectionCreateOptions): Promise<void> {
  checkCollectionName(name);
  const url = options.source ?? process.env.TIDEMARK_SOURCE;
  if (!url)
    throw new UsageError(
      'Missing --source <postgres-url> (or $TIDEMARK_SOURCE): the database the collection backs up.',
    );
  const retention: RetentionPolicy = {};
  if (options.keepLast !== undefined) retention.keepLast = options.keepLast;
  if (options.keepDaily !== undefined) retention.keepDaily = options.keepDaily;
  if (options.keepWeekly !== undefined) retention.keepWeekly = options.keepWeekly;
  if (options.keepMonthly !== undefined) retention.keepMonthly = options.keepMonthly;
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: true, catalog: options.catalog });
  const collection = await createCollection(ctx, {
    name,
    source: withoutPassword(url),
    sourceDescription: describeUrl(url),
    ...(options.schedule !== undefined && { schedule: options.schedule }),
    retention,
  });
  if (options.json) printJson({ ok: true, collection: publicView(collection) });
  else
    say(
      `Collection ${collection.name} defined: ${collection.sourceDescription}, ${describeRetention(collection.retention)}${collection.schedule ? `, schedule ${collection.schedule}` : ''}.`,
    );
}

export async function collectionListCommand(options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  const [collections, backups] = await Promise.all([ctx.catalog.listCollections(), ctx.catalog.listBackups()]);
  const counts = (name: string) => backups.filter((b) => b.collection === name && b.state === 'committed').length;
  if (options.json) {
    printJson(collections.map((c) => ({ ...publicView(c), committedBackups: counts(c.name) })));
    return;
  }
  if (collections.length === 0)
    return say(`No collections in ${ctx.storage.location} yet; create one with \`tidemark collection create\`.`);
  printTable(
    ['COLLECTION', 'SOURCE', 'SCHEDULE', 'RETENTION', 'BACKUPS'],
    collections.map((c) => [
      c.name,
      c.sourceDescription,
      c.schedule ?? '-',
      describeRetention(c.retention),
      String(counts(c.name)),
    ]),
  );
}

export async function collectionShowCommand(name: string, options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  const { collection, backups } = await describeCollection(ctx, name);
  const rows = backups.map((b) => ({
    backupId: b.backupId,
    state: b.state,
    parent: b.parent ?? null,
    startedAt: b.startedAt,
    snapshotTime: b.snapshotTime,
    bytesStored: b.stats?.bytesStored,
    bytesReferenced: b.stats?.bytesReferenced,
  }));
  if (options.json) {
    printJson({ ...publicView(collection), backups: rows });
    return;
  }
  const lines = [
    `Collection  ${collection.name}`,
    `Source      ${collection.sourceDescription}`,
    `Schedule    ${collection.schedule ?? '-'}`,
    `Retention   ${describeRetention(collection.retention)}`,
    `Created     ${collection.createdAt}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (rows.length === 0) return say(`No backups in collection ${name} yet.`);
  process.stdout.write('\n');
  printTable(
    ['BACKUP', 'STATE', 'PARENT', 'SNAPSHOT', 'STORED', 'REFERENCED'],
    rows.map((r) => [
      r.backupId,
      r.state,
      r.parent ?? '-',
      r.snapshotTime ?? '-',
      fmt(r.bytesStored),
      fmt(r.bytesReferenced),
    ]),
  );
}

const fmt = (bytes: number | undefined) => (bytes === undefined ? '' : formatBytes(bytes));

/** What a user sees of a collection: never the stored source URL, only where it points. */
function publicView(c: CollectionRecord) {
  const { source: _source, ...rest } = c;
  return rest;
}
