// Part of step "Finish", before indexes and constraints: apply the layers of incremental backups
// (FORMAT.md, "Incremental backups"), in order, table by table. For each layer, in one
// transaction recorded in the progress table: load its rows into a temporary table, remove from
// the target table the rows the layer replaces (its rows' keys) or deletes (its removed keys),
// then insert its rows. The removed rows are counted (they must be exactly the layer's
// `removedRows`) and checksummed, so verification can expect base + layers − removed.
import type { SqlSession } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import type { Manifest, ManifestLayer, ManifestTable } from '../repository/manifest.ts';
import { layout } from '../repository/layout.ts';
import { decodeChunk } from '../repository/chunk-codec.ts';
import { copyInput, copyOptions } from '../copy-format.ts';
import { ContentChecksum, checksumOfCopy } from '../content-checksum.ts';
import { IntegrityError } from '../errors.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';
import { readKeyIndex } from '../repository/key-index.ts';
import { PROGRESS_SCHEMA, doneSteps, runStepOnce } from './progress-table.ts';

export async function applyLayers(session: SqlSession, manifest: Manifest, ctx: TaskContext): Promise<number> {
  const done = await doneSteps(session, 'layer:');
  let applied = 0;
  for (const [index, table] of manifest.tables.entries()) {
    for (const [ordinal, layer] of (table.layers ?? []).entries()) {
      const step = `layer:${index}:${ordinal}`;
      if (done.has(step)) {
        ctx.progress({ phase: 'load', table: qualifiedName(table.schema, table.name), unitDone: `layer:${ordinal}` }); // applied by an earlier attempt
        continue;
      }
      await runStepOnce(session, step, () => applyLayer(session, index, ordinal, table, layer, ctx));
      applied++;
    }
  }
  return applied;
}

async function applyLayer(
  session: SqlSession,
  index: number,
  ordinal: number,
  table: ManifestTable,
  layer: ManifestLayer,
  ctx: TaskContext,
): Promise<void> {
  const name = qualifiedName(table.schema, table.name);
  const where = `layer ${ordinal + 1} of ${name} (backup ${layer.backupId})`;
  const key = quoteIdent(table.keyIndex!.column);
  const columns = table.columns.map(quoteIdent).join(', ');
  await session.query(
    `CREATE TEMPORARY TABLE _tidemark_layer ON COMMIT DROP AS SELECT ${columns} FROM ONLY ${name} WITH NO DATA`,
  );
  await session.query(
    `CREATE TEMPORARY TABLE _tidemark_removed ON COMMIT DROP AS SELECT ${key} FROM ONLY ${name} WITH NO DATA`,
  );
  for (const ref of layer.chunks) {
    const content = await decodeChunk(ref.id, await ctx.storage.get(layout.chunk(ref.id)), where);
    await session.copyIn(
      `COPY _tidemark_layer (${columns}) FROM STDIN${copyOptions(table.format)}`,
      copyInput(table.format, content),
    );
  }
  for await (const keys of readKeyIndex(ctx, { chunks: layer.removedKeys }, name)) {
    await session.copyIn(`COPY _tidemark_removed (${key}) FROM STDIN`, Buffer.from(keys.join('\n') + '\n'));
  }
  const gone = `${key} IN (SELECT ${key} FROM _tidemark_layer UNION SELECT ${key} FROM _tidemark_removed)`;
  // The rows about to go, read as the export reads them, so their checksum is comparable.
  const removed = await checksumOfCopy(
    session,
    `COPY (SELECT ${columns} FROM ONLY ${name} WHERE ${gone}) TO STDOUT${copyOptions(table.format)}`,
    table.format,
  );
  const [deleted] = await session.query<{ n: string }>(
    `WITH d AS (DELETE FROM ONLY ${name} WHERE ${gone} RETURNING 1) SELECT pg_catalog.count(*)::text AS n FROM d`,
  );
  if (Number(deleted!.n) !== layer.removedRows || removed.rows !== layer.removedRows) {
    throw new IntegrityError(
      `Applying ${where} removed ${deleted!.n} rows where the backup recorded ${layer.removedRows} rows gone since its parent. The backup chain is inconsistent; restore an older backup of the collection and report this.`,
    );
  }
  await session.query(
    `INSERT INTO ${name} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM _tidemark_layer`,
  );
  await session.query(`INSERT INTO ${PROGRESS_SCHEMA}.removed VALUES ($1, $2, $3, $4)`, [
    index,
    ordinal,
    removed.rows,
    removed.digest,
  ]);
  ctx.progress({
    phase: 'load',
    table: name,
    rows: layer.rows,
    bytes: layer.bytes,
    chunks: layer.chunks.length,
    unitDone: `layer:${ordinal}`,
  });
}

/**
 * What verification expects of a table: its chunks, plus every layer's rows, minus the rows the
 * layers removed (as measured while applying them).
 */
export async function expectedContent(
  session: SqlSession,
  index: number,
  table: ManifestTable,
): Promise<{ rows: number; digest: string }> {
  if (!table.layers?.length) return { rows: table.rows, digest: table.checksum };
  const expected = ContentChecksum.fromParts(table.rows, table.checksum);
  for (const layer of table.layers) expected.merge(ContentChecksum.fromParts(layer.rows, layer.checksum));
  const removed = await session.query<{ rows: string; digest: string }>(
    `SELECT rows::text, digest FROM ${PROGRESS_SCHEMA}.removed WHERE table_index = $1`,
    [index],
  );
  if (removed.length !== table.layers.length) {
    throw new IntegrityError(
      `Table ${qualifiedName(table.schema, table.name)}: ${removed.length} of its ${table.layers.length} layers were applied; the restore did not finish its Finish step.`,
    );
  }
  for (const r of removed) expected.subtract(ContentChecksum.fromParts(Number(r.rows), r.digest));
  return { rows: expected.rows, digest: expected.digest };
}
