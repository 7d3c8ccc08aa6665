// An incremental backup builds on its parent's chunks without reading them: before it does, it
// checks that each one is there with its recorded size. A table whose parent entry lists a
// missing or damaged chunk is exported whole instead (issue 11, finding 3), so damage is not
// inherited by every later backup of the collection.
import type { RepositoryStorage } from '../ports/storage.ts';
import { tableChunkRefs, type Manifest } from '../repository/manifest.ts';
import { unusableChunks } from '../repository/chunk-store.ts';
import { qualifiedName } from '../sql.ts';
import { layout } from '../repository/layout.ts';

/** Tables (qualified name) of `parent` that cannot be built on, each with a warning naming why. */
export async function untrustedParentTables(storage: RepositoryStorage, parent: Manifest): Promise<Map<string, string>> {
  const refs = new Map(parent.tables.flatMap((t) => tableChunkRefs(t)).map((r) => [r.id, r]));
  const bad = new Map((await unusableChunks(storage, [...refs.values()])).map((b) => [b.key, b]));
  const untrusted = new Map<string, string>();
  if (bad.size === 0) return untrusted;
  for (const table of parent.tables) {
    const damaged = [...new Set(tableChunkRefs(table).map((r) => layout.chunk(r.id)))].flatMap((key) => bad.get(key) ?? []);
    if (damaged.length === 0) continue;
    const name = qualifiedName(table.schema, table.name);
    const first = damaged.slice(0, 3).map((b) => `${b.key} (${b.problem})`).join(', ');
    untrusted.set(
      name,
      `Table ${name} was exported whole: its entry in parent backup ${parent.backupId} needs ${damaged.length} chunk(s) that are missing or damaged: ${first}${damaged.length > 3 ? ' …' : ''}. ` +
        `Backup ${parent.backupId} cannot restore it; run \`tidemark verify ${parent.backupId}\`.`,
    );
  }
  return untrusted;
}
