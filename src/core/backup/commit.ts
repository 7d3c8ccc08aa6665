// Step "Commit": assemble the manifest from the plan and the export results, write it, then
// commit the catalog entry — in that order (DESIGN.md invariant 1). A rerun finds the manifest
// already written and only repeats the idempotent catalog transition.
import type { TaskContext } from '../task-context.ts';
import type { BackupRecord, BackupStats } from '../ports/catalog.ts';
import type { ExportTaskResult } from './plan-model.ts';
import { layout } from '../repository/layout.ts';
import { readDocument, writeDocument } from '../repository/documents.ts';
import { commitMarkerKind, exportResultKind, manifestKind } from '../repository/document-formats.ts';
import {
  manifestChunkRefs,
  readManifest,
  tableRowsAfter,
  type Manifest,
  type ManifestTable,
} from '../repository/manifest.ts';
import { CHUNK_CODEC } from '../repository/chunk-codec.ts';
import { ContentChecksum } from '../content-checksum.ts';
import { IntegrityError, RunDeadlineError } from '../errors.ts';
import { readPlanHeader } from './plan.ts';

/** Also the BackupCommitted event's detail: `collection` feeds its per-collection staleness metric. */
export type CommitOutput = BackupStats & {
  backupId: string;
  warnings: number;
  collection: string | null;
  source: string;
};

export async function commitBackup(
  input: { backupId: string; startedAt: string },
  ctx: TaskContext,
): Promise<CommitOutput> {
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
  const record = await ctx.catalog.finishBackup(input.backupId, changes);
  // The repository's own record of the commit, for `catalog rebuild` and gc (a manifest without
  // it never committed). Last: a crash before it leaves a committed backup that gc marks again.
  await writeDocument(
    ctx.storage,
    commitMarkerKind,
    { backupId: input.backupId },
    { backupId: input.backupId, committedAt: manifest.committedAt },
  );
  return {
    backupId: input.backupId,
    collection: record.collection ?? null,
    source: record.source,
    ...manifest.stats,
    warnings: manifest.warnings.length,
  };
}

async function writeManifest(input: { backupId: string; startedAt: string }, ctx: TaskContext): Promise<Manifest> {
  const header = await readPlanHeader(ctx, input.backupId);
  await checkDeadline(input.backupId, ctx);
  const results: ExportTaskResult[] = [];
  for (let batch = 0; batch < header.batchCount; batch++) {
    const key = layout.exportResult(input.backupId, batch);
    if (!(await ctx.storage.head(key))) {
      throw new IntegrityError(
        `Backup ${input.backupId} cannot commit: export batch ${batch} has no result (${key}). The export did not finish; nothing was committed.`,
      );
    }
    results.push(...(await readDocument(ctx.storage, exportResultKind, { runId: input.backupId, batch })).tasks);
  }
  if (results.length !== header.taskCount) {
    throw new IntegrityError(
      `Backup ${input.backupId} cannot commit: ${results.length} export results for ${header.taskCount} planned tasks.`,
    );
  }
  results.sort((a, b) => a.table - b.table || a.range - b.range);
  const parent = header.parent ? await readManifest(ctx.storage, header.parent.backupId) : undefined;
  const tables: ManifestTable[] = header.schema.tables.map((t, i) => ({
    schema: t.schema,
    name: t.name,
    columns: t.columns,
    format: header.formats[i] ?? 'text',
    ...(header.rowTypes ? { rowType: header.rowTypes[i] } : {}),
    ...(header.identities ? { identity: header.identities[i] } : {}),
    rows: 0,
    checksum: '',
    bytes: 0,
    chunks: [],
  }));
  const checksums = tables.map(() => new ContentChecksum());
  /** Tables whose entry is the parent's, with or without a new layer. */
  const carried = new Set<number>();
  let bytesRead = 0;
  let bytesStored = 0;
  for (const r of results) {
    bytesRead += r.bytesRead;
    bytesStored += r.bytesWritten;
    const t = tables[r.table]!;
    if (r.kind === 'keys') {
      t.keyIndex = r.keyIndex;
    } else if (r.outcome === 'unchanged' || r.outcome === 'layer') {
      const before = parent?.tables.find((p) => p.schema === t.schema && p.name === t.name);
      if (!before)
        throw new IntegrityError(
          `Backup ${input.backupId} cannot commit: ${t.schema}.${t.name} has changes against backup ${header.parent?.backupId}, whose manifest lacks the table.`,
        );
      carried.add(r.table);
      tables[r.table] =
        r.outcome === 'unchanged'
          ? before
          : {
              ...before,
              layers: [
                ...(before.layers ?? []),
                {
                  backupId: input.backupId,
                  ...r.layer!,
                  chunks: r.chunks,
                  rows: r.rows,
                  checksum: r.checksum,
                  bytes: r.bytesRead,
                },
              ],
              keyIndex: r.keyIndex,
            };
    } else {
      if (r.keyIndex) t.keyIndex = r.keyIndex;
      t.rows += r.rows;
      t.bytes += r.bytesRead;
      t.chunks.push(...r.chunks);
      checksums[r.table]!.merge(ContentChecksum.fromParts(r.rows, r.checksum));
    }
  }
  tables.forEach((t, i) => {
    if (!carried.has(i)) t.checksum = checksums[i]!.digest;
  });
  const manifest: Manifest = {
    backupId: input.backupId,
    parent: header.parent?.backupId ?? null,
    ...(header.collection ? { collection: header.collection } : {}),
    startedAt: input.startedAt,
    committedAt: new Date().toISOString(),
    source: header.source,
    snapshot: { ...header.snapshot, ...(header.snapshotXmin ? { xmin: header.snapshotXmin } : {}) },
    codec: CHUNK_CODEC,
    schema: header.schema,
    tables,
    stats: { tables: tables.length, rows: 0, bytesRead, bytesStored, bytesReferenced: 0, chunks: 0 },
    warnings: header.schema.warnings,
  };
  const refs = manifestChunkRefs(manifest);
  manifest.stats.rows = tables.reduce((sum, t) => sum + tableRowsAfter(t), 0);
  manifest.stats.chunks = refs.length;
  manifest.stats.bytesReferenced = refs.reduce((sum, c) => sum + c.storedSize, 0);
  // Written after every chunk it lists (they were written by the export tasks). Two racing
  // commits may both write where storage has no exclusive create: the stored one is the truth.
  await writeDocument(ctx.storage, manifestKind, { backupId: input.backupId }, manifest);
  return readManifest(ctx.storage, input.backupId);
}

/** Time a commit needs to write its manifest before the deadline. */
const COMMIT_MARGIN_MS = 5 * 60 * 1000;

/**
 * Garbage collection stops waiting for a running backup at its deadline (FORMAT.md, "Garbage
 * collection"), and may then remove chunks this run reused: past it, the run must not commit.
 */
async function checkDeadline(backupId: string, ctx: TaskContext): Promise<void> {
  const record = await ctx.catalog.getBackup(backupId);
  if (record && record.state !== 'running') {
    throw new RunDeadlineError(
      `Backup ${backupId} cannot commit: it is ${record.state}, and gc does not protect the chunks of a run that ended. Run the backup again.`,
    );
  }
  const deadline = record?.deadline;
  if (deadline && Date.now() > Date.parse(deadline) - COMMIT_MARGIN_MS) {
    throw new RunDeadlineError(
      `Backup ${backupId} cannot commit: it ran past its deadline (${deadline}), after which garbage collection no longer protects its chunks. Run the backup again.`,
    );
  }
}
