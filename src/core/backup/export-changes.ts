// Export tasks of collection backups (FORMAT.md, "Incremental backups"):
// - `changes`: a table against the parent backup. Rows whose xmin the parent's snapshot did not
//   see are the inserted and updated rows; the parent's rows that are gone (deleted, or replaced
//   by an update) are counted by comparing counts, and found by merging the parent's key index
//   with the current keys. Unchanged: nothing is read or written. Keyless and changed: the whole
//   table, once.
// - `keys`: the key index of a table exported whole, for the next backup.
import type { SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { ChunkRef, ExportTask, ExportTaskResult, PlanHeader } from './plan-model.ts';
import { tableRowsAfter } from '../repository/manifest.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { IntegrityError } from '../errors.ts';
import { copyOptions } from '../copy-format.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';
import { changedSince } from './incremental-plan.ts';
import { KeyIndexWriter, missingKeys, parseKeyLines, readKeyIndex, type Key } from '../repository/key-index.ts';
import { copyOutSql, exportCopy } from './copy-export.ts';
import { storeChunk } from './store-chunk.ts';
import { sourceFilter } from './row-sources.ts';

const KEY_READ_BYTES = 1024 * 1024;

export async function exportChanges(
  session: SqlSession,
  header: PlanHeader,
  task: ExportTask,
  ctx: TaskContext,
): Promise<ExportTaskResult> {
  const table = header.schema.tables[task.table]!;
  const name = qualifiedName(table.schema, table.name);
  const format = header.formats[task.table]!;
  const key = header.keys?.[task.table] ?? null;
  const parent = await cachedManifest(ctx.storage, header.parent!.backupId);
  const before = parent.tables.find((t) => t.schema === table.schema && t.name === table.name);
  if (!before)
    throw new IntegrityError(
      `Backup ${header.backupId}: the plan reads ${name} against backup ${parent.backupId}, whose manifest has no such table.`,
    );
  // Planned against the parent only when their fingerprint is the parent's (plan.ts).
  if (table.source?.kind === 'large objects') {
    const rows = tableRowsAfter(before);
    return {
      table: task.table,
      range: task.range,
      kind: 'changes',
      outcome: 'unchanged',
      rows,
      bytesRead: 0,
      checksum: '',
      chunks: [],
      bytesWritten: 0,
    };
  }
  const changed = changedSince(header.parent!.xmin);
  const [counts] = await session.query<{ total: string; changed: string }>(
    `SELECT pg_catalog.count(*)::text AS total, pg_catalog.count(*) FILTER (WHERE ${changed})::text AS changed FROM ONLY ${name}${sourceFilter(table)}`,
  );
  const total = Number(counts!.total);
  const changedRows = Number(counts!.changed);
  // Every row the parent saw and that is still here has an xmin older than the parent's.
  const removedRows = tableRowsAfter(before) - (total - changedRows);
  const base = { table: task.table, range: task.range, kind: 'changes' as const };
  if (removedRows < 0) {
    throw new IntegrityError(
      `Backup ${header.backupId}: ${name} holds ${total - changedRows} rows older than backup ${parent.backupId}, which recorded only ${tableRowsAfter(before)}: this source is not the one that backup read (a restored or promoted server?). Take a full backup: \`tidemark backup --collection ${header.collection ?? '<name>'} --full\`.`,
    );
  }
  if (changedRows === 0 && removedRows === 0) {
    return { ...base, outcome: 'unchanged', rows: total, bytesRead: 0, checksum: '', chunks: [], bytesWritten: 0 };
  }
  // Keyless, or changed so much that a layer would be about as big as the table (and slower to
  // apply): the whole table, and for a keyed one a new key index.
  if (!key || changedRows + removedRows > total / 2) {
    const whole = await exportCopy(
      session,
      copyOutSql(table, { ...task, fromBlock: null, toBlock: null }, format),
      name,
      format,
      header.chunkBytes,
      ctx,
    );
    if (!key) return { ...base, outcome: 'full', ...whole };
    const keys = await exportKeyIndex(session, header, task, ctx);
    return {
      ...base,
      outcome: 'full',
      ...whole,
      bytesWritten: whole.bytesWritten + keys.bytesWritten,
      keyIndex: keys.keyIndex,
    };
  }
  const columns = table.columns.map(quoteIdent).join(', ');
  const rows = await exportCopy(
    session,
    `COPY (SELECT ${columns} FROM ONLY ${name} WHERE ${changed}) TO STDOUT${copyOptions(format)}`,
    name,
    format,
    header.chunkBytes,
    ctx,
  );
  const store = countingStore(ctx);
  const index = new KeyIndexWriter(key, store.put);
  const removed = new KeyIndexWriter(key, store.put);
  const current = indexing(keysOf(session, name, key), index);
  // No row of the parent is gone: nothing to find, only the new key index to write.
  const deleted =
    removedRows > 0
      ? await missingKeys(readKeyIndex(ctx, before.keyIndex!, name), current, (keys) => removed.add(keys))
      : await drain(current);
  const keyIndex = await index.finish();
  const removedKeys = await removed.finish();
  if (keyIndex.count !== total || deleted > removedRows) {
    throw new IntegrityError(
      `Backup ${header.backupId}: ${name} has ${total} rows and ${keyIndex.count} keys, ${deleted} deleted of ${removedRows} gone; the table changed under the snapshot or its key is not unique.`,
    );
  }
  return {
    ...base,
    outcome: 'layer',
    ...rows,
    bytesWritten: rows.bytesWritten + store.bytesWritten(),
    layer: { removedRows, removedKeys: removedKeys.chunks, rowsAfter: total },
    keyIndex,
  };
}

export async function exportKeyIndex(
  session: SqlSession,
  header: PlanHeader,
  task: ExportTask,
  ctx: TaskContext,
): Promise<ExportTaskResult> {
  const table = header.schema.tables[task.table]!;
  const name = qualifiedName(table.schema, table.name);
  const store = countingStore(ctx);
  const writer = new KeyIndexWriter(header.keys![task.table]!, store.put);
  await drain(indexing(keysOf(session, name, header.keys![task.table]!), writer));
  const keyIndex = await writer.finish();
  return {
    table: task.table,
    range: task.range,
    kind: 'keys',
    rows: 0,
    bytesRead: 0,
    checksum: '',
    chunks: [],
    bytesWritten: store.bytesWritten(),
    keyIndex,
  };
}

async function* keysOf(session: SqlSession, name: string, key: string): AsyncIterable<Key[]> {
  const column = quoteIdent(key);
  for await (const { data, release } of session.copyOutChunks(
    `COPY (SELECT ${column} FROM ONLY ${name} ORDER BY ${column}) TO STDOUT`,
    KEY_READ_BYTES,
  )) {
    const keys = parseKeyLines(data, `keys of ${name}`);
    release?.();
    yield keys;
  }
}

/** Passes the keys on, writing each batch into `index` first. */
async function* indexing(keys: AsyncIterable<Key[]>, index: KeyIndexWriter): AsyncIterable<Key[]> {
  for await (const batch of keys) {
    await index.add(batch);
    yield batch;
  }
}

/** Stores key chunks, counting the bytes newly written. */
function countingStore(ctx: TaskContext): {
  put: (content: Buffer, keys: number) => Promise<ChunkRef>;
  bytesWritten: () => number;
} {
  let written = 0;
  return {
    put: async (content, keys) => {
      const stored = await storeChunk(ctx, content, keys);
      written += stored.bytesWritten;
      return stored.ref;
    },
    bytesWritten: () => written,
  };
}

async function drain(keys: AsyncIterable<Key[]>): Promise<number> {
  for await (const _ of keys);
  return 0;
}
