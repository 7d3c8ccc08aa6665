// `verify`: re-reads the manifest (checksum, format) and every chunk it lists (hash), and
// reports each damaged or missing object by name. A chunk that is there but damaged is moved to
// the quarantine (chunk-store.ts), so the next backup holding its rows writes it again; nothing
// else is changed.
import type { RepositoryStorage } from './ports/storage.ts';
import type { ProgressEvent } from './task-context.ts';
import { readManifest, tableChunkRefs } from './repository/manifest.ts';
import { layout } from './repository/layout.ts';
import { decodeChunk } from './repository/chunk-codec.ts';
import { qualifiedName } from './sql.ts';
import { IntegrityError, TidemarkError } from './errors.ts';
import { quarantineChunk } from './repository/chunk-store.ts';
import type { ChunkId } from './ids.ts';
import { forEachInParallel } from './parallel.ts';

export interface VerifyProblem {
  object: string;
  table?: string;
  problem: string;
  /** Where a damaged chunk's bytes were moved. */
  quarantined?: string;
}

export interface VerifyReport {
  backupId: string;
  chunks: number;
  bytes: number;
  problems: VerifyProblem[];
}

export async function verifyBackup(
  storage: RepositoryStorage,
  backupId: string,
  progress: (e: ProgressEvent) => void,
  concurrency = 4,
): Promise<VerifyReport> {
  const manifest = await readManifest(storage, backupId);
  // Each chunk is read once, for the first table that lists it; a table is done when its last
  // is. A table with none (no rows, or chunks another table listed first) counts as done at once.
  const work: { id: string; table: string; size: number }[] = [];
  const units: Record<string, number> = {};
  const seen = new Set<string>();
  for (const t of manifest.tables) {
    const table = qualifiedName(t.schema, t.name);
    units[table] = 0;
    for (const c of tableChunkRefs(t)) {
      if (seen.has(c.id)) continue;
      seen.add(c.id);
      work.push({ id: c.id, table, size: c.size });
      units[table]++;
    }
  }
  progress({ phase: 'verify', expected: { bytes: work.reduce((sum, w) => sum + w.size, 0), unitsPerTable: units } });
  const problems: VerifyProblem[] = [];
  let bytes = 0;
  await forEachInParallel(work, concurrency, async (item) => {
    const key = layout.chunk(item.id as never);
    try {
      const content = await decodeChunk(item.id as never, await storage.get(key), `table ${item.table}`);
      bytes += content.length;
      progress({ phase: 'verify', table: item.table, unitDone: item.id, bytes: content.length, chunks: 1 });
    } catch (err) {
      if (!(err instanceof TidemarkError)) throw err;
      const quarantined =
        err instanceof IntegrityError ? await quarantineChunk(storage, item.id as ChunkId) : undefined;
      problems.push({
        object: key,
        table: item.table,
        problem: quarantined
          ? `${err.message} Moved to ${quarantined}: the next backup of these rows writes it again.`
          : err.message,
        ...(quarantined ? { quarantined } : {}),
      });
    }
  });
  return { backupId, chunks: work.length, bytes, problems };
}
