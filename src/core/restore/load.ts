// Step "LoadBatch": for each item of the batch (load-plan.ts), get each chunk → verify its hash
// → decompress → COPY FROM, recorded in the target's progress table in the same transaction (so
// a retry loads nothing twice). The next chunk is fetched while the current one loads (prefetch.ts).
import type { DatabaseRef, SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { Manifest } from '../repository/manifest.ts';
import { layout } from '../repository/layout.ts';
import { RestoreTargetError, TidemarkError } from '../errors.ts';
import { sqlState } from '../retry.ts';
import { copyInput, copyOptions } from '../copy-format.ts';
import { decodeChunk } from '../repository/chunk-codec.ts';
import { isYugabyte, qualifiedName, quoteIdent } from '../sql.ts';
import { doneSteps, runStepOnce } from './progress-table.ts';
import { Prefetch } from '../prefetch.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { loadBatches, type ChunkLoad, type LoadItem } from './load-plan.ts';

export interface LoadBatchInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  batch: number;
}

export async function loadBatch(
  input: LoadBatchInput,
  ctx: TaskContext,
): Promise<{ batch: number; chunks: number; rows: number }> {
  const manifest = await cachedManifest(ctx.storage, input.backupId);
  const items = loadBatches(manifest)[input.batch] ?? [];
  const session = await ctx.databases.connect(input.target, { applicationName: `tidemark load batch ${input.batch}` });
  let loaded = 0;
  let rows = 0;
  try {
    // Safe without waiting for each commit's WAL flush: a chunk and its progress row commit
    // together, so a crash loses both and the retry loads the chunk again. Complete's final
    // commit is synchronous and flushes everything before it.
    await session.query('SET synchronous_commit = off');
    const done = await doneSteps(session, '');
    // YugabyteDB has neither FREEZE nor a transactional TRUNCATE: its tables load chunk by chunk.
    const [version] = await session.query<{ server_version: string }>('SHOW server_version');
    const units = isYugabyte(version?.server_version ?? '') ? items.flatMap((i) => chunksOf(manifest, i)) : items;
    const pending = units
      .filter((i) => !done.has(stepOf(i)))
      .map((item) => ({ item, members: chunksOf(manifest, item) }));
    // Loaded by an earlier attempt: counted for the progress display, not in this batch's result.
    for (const item of units.filter((i) => done.has(stepOf(i)))) {
      const table = manifest.tables[item.table]!;
      for (const chunk of chunksOf(manifest, item))
        ctx.progress({ phase: 'load', table: qualifiedName(table.schema, table.name), unitDone: unitOf(chunk) });
    }
    const chunks = new Prefetch(
      pending.flatMap((p) => p.members),
      (item: ChunkLoad) => fetchChunk(manifest, item, ctx),
    );
    for (const { item, members } of pending) {
      const table = manifest.tables[item.table]!;
      const name = qualifiedName(table.schema, table.name);
      const copy = (freeze: boolean) =>
        `COPY ${name}${table.columns.length ? ` (${table.columns.map(quoteIdent).join(', ')})` : ''} FROM STDIN${copyOptions(table.format, freeze)}`;
      const loadChunk = async (freeze: boolean) => {
        const { item: chunk, value: data } = await chunks.next();
        try {
          await session.copyIn(copy(freeze), copyInput(table.format, data));
        } catch (err) {
          throw new TidemarkError(
            `Loading chunk ${chunk.ref.id.slice(0, 12)} into ${name} failed: ${(err as Error).message}`,
            { cause: err },
          );
        }
      };
      const source = manifest.schema.tables[item.table]?.source;
      const didLoad = await runStepOnce(session, stepOf(item), async () => {
        if (item.kind === 'chunk') return loadChunk(false);
        // An extension configuration table holds the extension's own rows: added to, not emptied.
        if (source) {
          for (let i = 0; i < members.length; i++) await loadChunk(false);
          return;
        }
        // FREEZE needs the table created or truncated in this transaction; it is empty anyway.
        await session.query(`TRUNCATE ONLY ${name}`);
        for (let i = 0; i < members.length; i++) await loadChunk(true);
      }).catch(async (err) => {
        if (source?.kind !== 'extension configuration' || sqlState(err) !== UNIQUE_VIOLATION) throw err;
        throw await configurationRowConflict(session, name, input.restoreId, err);
      });
      // A concurrent attempt of this batch loaded it first: count it once, there.
      if (!didLoad) {
        chunks.skip(members.length);
        continue;
      }
      for (const member of members) {
        loaded++;
        rows += member.ref.rows;
        ctx.progress({
          phase: 'load',
          table: name,
          rows: member.ref.rows,
          bytes: member.ref.size,
          chunks: 1,
          unitDone: unitOf(member),
        });
      }
    }
  } finally {
    await session.close();
  }
  return { batch: input.batch, chunks: loaded, rows };
}

/** The chunks an item loads: itself, or every chunk of its table. */
function chunksOf(manifest: Manifest, item: LoadItem): ChunkLoad[] {
  if (item.kind === 'chunk') return [item];
  return manifest.tables[item.table]!.chunks.map((ref, chunk) => ({ kind: 'chunk', table: item.table, chunk, ref }));
}

/** A chunk's name as a unit of its table's progress (expectedLoad counts them). */
function unitOf(chunk: ChunkLoad): string {
  return `chunk:${chunk.chunk}`;
}

function stepOf(item: LoadItem): string {
  return item.kind === 'chunk' ? `chunk:${item.table}:${item.chunk}` : `table:${item.table}`;
}

/** Reads, checks and decompresses one chunk. */
async function fetchChunk(manifest: Manifest, item: ChunkLoad, ctx: TaskContext): Promise<Buffer> {
  const table = manifest.tables[item.table]!;
  const where = `table ${qualifiedName(table.schema, table.name)}, chunk ${item.chunk}`;
  return decodeChunk(item.ref.id, await ctx.storage.get(layout.chunk(item.ref.id)), where);
}

const UNIQUE_VIOLATION = '23505';

/**
 * A backed-up row of an extension's configuration table whose key a row CREATE EXTENSION put
 * there already holds (the extension's script inserts it, and its pg_extension_config_dump
 * filter did not leave it out: pg_dump's restore fails the same way). Said with the table, the
 * extension, the key and the two ways out, the load's transaction already rolled back.
 */
async function configurationRowConflict(
  session: SqlSession,
  table: string,
  restoreId: string,
  err: unknown,
): Promise<RestoreTargetError> {
  const [owner] = await session
    .query<{ extension: string }>(
      `SELECT pg_catalog.quote_ident(e.extname) AS extension FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = $1::pg_catalog.regclass
          AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'`,
      [table],
    )
    .catch(() => []);
  const extension = owner ? `extension ${owner.extension}` : 'its extension';
  const key = serverDetail(err) ?? (err as Error).message;
  return new RestoreTargetError(
    `Loading ${table}, a configuration table of ${extension}, failed: the backup holds a row whose key a row ` +
      `CREATE EXTENSION put there already holds (${key}). The extension's own script inserts that row, and the ` +
      "extension's pg_extension_config_dump filter does not leave it out of backups (pg_dump's restore fails the same way). " +
      `To restore the backed-up row, delete the extension's row with that key from ${table} in the target and run ` +
      `\`tidemark restore --resume ${restoreId}\`; to keep the extension's defaults instead, delete or re-key the row at the ` +
      'source (CREATE EXTENSION recreates it) and restore a new backup into an empty database.',
    { cause: err },
  );
}

/** PostgreSQL's DETAIL of an error (for a unique violation: "Key (id)=(1) already exists."). */
function serverDetail(err: unknown): string | undefined {
  for (let e = err as { detail?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.detail === 'string' && e.detail) return e.detail.replace(/\.$/, '');
    e = e.cause as typeof e;
  }
  return undefined;
}
