// Step "Commit": assemble the manifest from the plan and the export results, write it, then
// commit the catalog entry — in that order (DESIGN.md invariant 1). A rerun finds the manifest
// already written and only repeats the idempotent catalog transition.
import type { TaskContext } from '../task-context.ts';
import type { BackupRecord, BackupStats } from '../ports/catalog.ts';
import type { ExportBatchResult, ExportTaskResult } from './plan-model.ts';
import { layout } from '../repository/layout.ts';
import { openDocument } from '../repository/sealed-document.ts';
import { encodeManifest, readManifest, type Manifest, type ManifestTable } from '../repository/manifest.ts';
import { CHUNK_CODEC } from '../repository/chunk-codec.ts';
import { ContentChecksum } from '../content-checksum.ts';
import { IntegrityError } from '../errors.ts';
import { readPlanHeader } from './plan.ts';
import { RESULT_FORMAT } from './export.ts';

export type CommitOutput = BackupStats & { backupId: string; warnings: number };

export async function commitBackup(input: { backupId: string; startedAt: string }, ctx: TaskContext): Promise<CommitOutput> {
  const manifestKey = layout.manifest(input.backupId);
  const manifest = (await ctx.storage.head(manifestKey))
    ? await readManifest(ctx.storage, input.backupId)
    : await writeManifest(input, ctx);
  const changes: Partial<BackupRecord> & { state: 'committed' } = {
    state: 'committed',
    finishedAt: manifest.committedAt,
    manifestKey,
    stats: manifest.stats,
    warnings: manifest.warnings,
    serverVersion: manifest.source.serverVersion,
    snapshotTime: manifest.snapshot.time,
    snapshotLsn: manifest.snapshot.lsn ?? undefined,
  };
  await ctx.catalog.finishBackup(input.backupId, changes);
  return { backupId: input.backupId, ...manifest.stats, warnings: manifest.warnings.length };
}

async function writeManifest(input: { backupId: string; startedAt: string }, ctx: TaskContext): Promise<Manifest> {
  const header = await readPlanHeader(ctx, input.backupId);
  const results: ExportTaskResult[] = [];
  for (let batch = 0; batch < header.batchCount; batch++) {
    const key = layout.exportResult(input.backupId, batch);
    if (!(await ctx.storage.head(key))) {
      throw new IntegrityError(`Backup ${input.backupId} cannot commit: export batch ${batch} has no result (${key}). The export did not finish; nothing was committed.`);
    }
    results.push(...(openDocument(RESULT_FORMAT, await ctx.storage.get(key), key) as ExportBatchResult).tasks);
  }
  if (results.length !== header.taskCount) {
    throw new IntegrityError(`Backup ${input.backupId} cannot commit: ${results.length} export results for ${header.taskCount} planned tasks.`);
  }
  results.sort((a, b) => a.table - b.table || a.range - b.range);
  const tables: ManifestTable[] = header.schema.tables.map((t, i) => ({ schema: t.schema, name: t.name, columns: t.columns, format: header.formats[i] ?? 'text', rows: 0, checksum: '', bytes: 0, chunks: [] }));
  const checksums = tables.map(() => new ContentChecksum());
  const stats: BackupStats = { tables: tables.length, rows: 0, bytesRead: 0, bytesStored: 0, bytesReferenced: 0, chunks: 0 };
  const referenced = new Set<string>();
  for (const r of results) {
    const t = tables[r.table]!;
    t.rows += r.rows;
    t.bytes += r.bytesRead;
    t.chunks.push(...r.chunks);
    checksums[r.table]!.merge(ContentChecksum.fromParts(r.rows, r.checksum));
    stats.rows += r.rows;
    stats.bytesRead += r.bytesRead;
    stats.bytesStored += r.bytesWritten;
    for (const c of r.chunks) {
      stats.chunks++;
      if (!referenced.has(c.id)) {
        referenced.add(c.id);
        stats.bytesReferenced += c.storedSize;
      }
    }
  }
  tables.forEach((t, i) => (t.checksum = checksums[i]!.digest));
  const manifest: Manifest = {
    backupId: input.backupId,
    parent: null,
    startedAt: input.startedAt,
    committedAt: new Date().toISOString(),
    source: header.source,
    snapshot: header.snapshot,
    codec: CHUNK_CODEC,
    schema: header.schema,
    tables,
    stats,
    warnings: header.schema.warnings,
  };
  // Written after every chunk it lists (they were written by the export tasks). Two racing
  // commits may both write where storage has no exclusive create: the stored one is the truth.
  await ctx.storage.putIfAbsent(layout.manifest(input.backupId), encodeManifest(manifest));
  return readManifest(ctx.storage, input.backupId);
}
