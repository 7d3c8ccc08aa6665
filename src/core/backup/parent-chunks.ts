// An incremental backup builds on its parent's chunks without reading them: before it does, it
// checks that each one is there with its recorded size. A table whose parent entry lists a
// missing or damaged chunk is exported whole instead (issue 11, finding 3), so damage is not
// inherited by every later backup of the collection.
import type { RepositoryStorage } from '../ports/storage.ts';
import { readManifest, tableChunkRefs, type Manifest } from '../repository/manifest.ts';
import { BackupNotFoundError, IntegrityError } from '../errors.ts';
import { unusableChunks } from '../repository/chunk-store.ts';
import { qualifiedName } from '../sql.ts';
import { layout } from '../repository/layout.ts';

/**
 * The parent's manifest, or undefined — and a warning naming it and why — when it cannot be
 * trusted (damaged, misplaced, not authenticated, gone): the backup is then full. Transient read
 * failures are thrown, to be retried.
 */
export async function readTrustedParent(
  storage: RepositoryStorage,
  parentId: string,
  warnings: string[],
): Promise<Manifest | undefined> {
  try {
    return await readManifest(storage, parentId);
  } catch (err) {
    if (!(err instanceof IntegrityError || err instanceof BackupNotFoundError)) throw err;
    warnings.push(`This backup is full: its parent backup ${parentId} cannot be used: ${err.message}`);
    return undefined;
  }
}

/** Tables (qualified name) of `parent` that cannot be built on, each with a warning naming why. */
export async function untrustedParentTables(
  storage: RepositoryStorage,
  parent: Manifest,
): Promise<Map<string, string>> {
  const refs = new Map(parent.tables.flatMap((t) => tableChunkRefs(t)).map((r) => [r.id, r]));
  const bad = new Map((await unusableChunks(storage, [...refs.values()])).map((b) => [b.key, b]));
  const untrusted = new Map<string, string>();
  if (bad.size === 0) return untrusted;
  for (const table of parent.tables) {
    const damaged = [...new Set(tableChunkRefs(table).map((r) => layout.chunk(r.id)))].flatMap(
      (key) => bad.get(key) ?? [],
    );
    if (damaged.length === 0) continue;
    const name = qualifiedName(table.schema, table.name);
    const first = damaged
      .slice(0, 3)
      .map((b) => `${b.key} (${b.problem})`)
      .join(', ');
    untrusted.set(
      name,
      `Table ${name} was exported whole: its entry in parent backup ${parent.backupId} needs ${damaged.length} chunk(s) that are missing or damaged: ${first}${damaged.length > 3 ? ' …' : ''}. ` +
        `Backup ${parent.backupId} cannot restore it; run \`tidemark verify ${parent.backupId}\`.`,
    );
  }
  return untrusted;
}
