// Step "VerifyBatch": read each restored table back with COPY and compare its row count and
// content checksum with the ones recorded at backup time; the first batch also compares the
// catalog state (verify-catalog.ts). Any difference fails the restore, naming the object.
import type { DatabaseRef } from '../ports/database.ts';
import type { TaskContext } from '../task-context.ts';
import { VerificationError } from '../errors.ts';
import { checksumOfCopy } from '../content-checksum.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';
import { cachedManifest } from '../repository/manifest-cache.ts';
import { expectedContent } from './apply-layers.ts';
import { tableRowsAfter } from '../repository/manifest.ts';
import { verifyBatches } from './load-plan.ts';
import { copyOptions } from '../copy-format.ts';
import { verifyCatalog } from './verify-catalog.ts';
import { sourceSelect } from '../backup/row-sources.ts';
import { replayBegun } from './replay-progress.ts';

export interface VerifyBatchInput {
  restoreId: string;
  backupId: string;
  target: DatabaseRef;
  batch: number;
}

export interface VerifyBatchOutput {
  batch: number;
  tables: number;
  rows: number;
  /** Batch 0: the catalog check; `matched` false when the backup recorded no catalog state (older manifests). */
  catalog?: { matched: boolean; ms: number };
}

export async function verifyBatch(input: VerifyBatchInput, ctx: TaskContext): Promise<VerifyBatchOutput> {
  const manifest = await cachedManifest(ctx.storage, input.backupId);
  const tables = verifyBatches(manifest)[input.batch] ?? [];
  const session = await ctx.databases.connect(input.target, {
    applicationName: `tidemark verify batch ${input.batch}`,
  });
  let rows = 0;
  let catalog: VerifyBatchOutput['catalog'];
  try {
    // A resumed restore to a point whose replay has begun: these tables were compared with the
    // backup before it began, and are the backup's no longer.
    if (await replayBegun(session)) return { batch: input.batch, tables: 0, rows: 0 };
    // A read-back that row-level security would filter fails instead of reporting a mismatch.
    await session.query('SET row_security = off');
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Once per restore, in the first batch (load-plan.ts keeps one even without tables).
    if (input.batch === 0) {
      const started = Date.now();
      const matched = await verifyCatalog(
        (sql, params) => session.query(sql, params),
        manifest.schema.catalogState,
        input.backupId,
      );
      catalog = { matched, ms: Date.now() - started };
    }
    for (const index of tables) {
      const table = manifest.tables[index]!;
      const name = qualifiedName(table.schema, table.name);
      const columns = table.columns.map(quoteIdent).join(', ');
      // The same COPY as the export, so the rows come back byte for byte as they were hashed.
      // A table without columns takes no column list (see copy-export.ts).
      const source = manifest.schema.tables[index];
      const special = source && sourceSelect(source, []);
      const copy = special
        ? `COPY (${special}) TO STDOUT${copyOptions(table.format)}`
        : `COPY ${name}${columns ? ` (${columns})` : ''} TO STDOUT${copyOptions(table.format)}`;
      const checksum = await checksumOfCopy(session, copy, table.format);
      const expected = await expectedContent(session, index, table);
      if (
        checksum.rows !== expected.rows ||
        checksum.digest !== expected.digest ||
        checksum.rows !== tableRowsAfter(table)
      ) {
        throw new VerificationError(
          `Restored table ${name} does not match backup ${input.backupId}: ${checksum.rows} rows (checksum ${checksum.digest}), the backup recorded ${tableRowsAfter(table)} rows (checksum ${expected.digest}). The restore is not usable; report this with both figures.`,
        );
      }
      rows += checksum.rows;
      ctx.progress({ phase: 'verify', table: name, rows: checksum.rows, tablesDone: 1 });
    }
    await session.query('COMMIT');
  } finally {
    await session.close();
  }
  return { batch: input.batch, tables: tables.length, rows, ...(catalog ? { catalog } : {}) };
}
