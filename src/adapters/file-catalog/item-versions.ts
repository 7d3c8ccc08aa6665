// Catalog items as series of write-once version files: <root>/<kind>s/<id>/000001.json, 000002.json, …
// The highest-numbered version is the current record. Each version is written to a temp file,
// fsynced and hard-linked to its name (writeFileOnce), so a reader never sees a half-written
// version and exactly one writer can create version N+1: that is the compare-and-swap. A writer
// that loses the race (EEXIST) re-reads and decides again. Files are never deleted: a deleted
// item is a last version marked `released`, and older versions stay as the item's history; temp
// files of crashed writers are ignored. A damaged current version (bit rot, a hand edit: writes
// themselves are atomic) makes that one item unreadable, naming its file, and never the others.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IntegrityError } from '#core/errors.ts';
import { isItemId, type ItemId, type ItemKind } from '#core/catalog/items.ts';
import { canonical } from '#core/catalog/order.ts';
import { writeFileOnce } from '#adapters/fs-storage.ts';
import { isDiskFull, osFailure } from '#adapters/os-errors.ts';

/** A stored record: a JSON object. */
type Item = object;

/** The current version of an item: its record (none for a deleted item), or why it is unreadable. */
export interface CurrentVersion {
  version: number;
  record?: Item;
  damaged?: IntegrityError;
}

export interface WriteOptions {
  /** Write over a damaged current version instead of failing on it (the repair of a create). */
  overDamaged: boolean;
  /** On a full disk: frees reserved space, true when it did (then the write is tried again). */
  onDiskFull?: () => Promise<boolean>;
}

/** The marker of a deleted item's last version. */
const DELETED = 'released';

export class ItemVersions {
  constructor(private readonly root: string) {}

  /**
   * The compare-and-swap: `next` sees the current record (undefined: none, or deleted) and
   * returns the next version, or undefined to leave it. When another writer got there first,
   * `next` runs again on what that writer wrote. Returns the record now current and whether
   * this call wrote it.
   */
  async write(
    kind: ItemKind,
    id: ItemId,
    options: WriteOptions,
    next: (current: Item | undefined) => Item | undefined,
  ): Promise<{ record: Item | undefined; written: boolean }> {
    const itemDir = this.itemDir(kind, id);
    for (;;) {
      const current = await this.current(kind, id);
      if (current?.damaged && !options.overDamaged) throw current.damaged;
      const record = next(current?.record);
      if (record === undefined) return { record: current?.record, written: false };
      const body = canonical(record);
      const path = join(itemDir, versionName((current?.version ?? 0) + 1));
      try {
        await mkdir(itemDir, { recursive: true });
        if (await writeFileOnce(path, body)) return { record: JSON.parse(body) as Item, written: true };
      } catch (err) {
        if (isDiskFull(err) && options.onDiskFull && (await options.onDiskFull())) continue;
        throw osFailure(err, 'write', `the catalog's ${kind} ${id} (${path})`);
      }
    }
  }

  /** The next version of a deleted item: the current record marked deleted. */
  deleted(current: Item): Item {
    return { ...current, [DELETED]: true };
  }

  /** The highest complete version, or undefined when the item has none (yet). */
  async current(kind: ItemKind, id: ItemId): Promise<CurrentVersion | undefined> {
    const itemDir = this.itemDir(kind, id);
    const version = Math.max(0, ...(await readdirIfExists(itemDir)).map(versionNumber));
    if (version === 0) return undefined;
    const path = join(itemDir, versionName(version));
    const text = await readFile(path, 'utf8');
    try {
      const record = JSON.parse(text) as Item;
      if (!record || typeof record !== 'object' || Array.isArray(record)) throw new Error('not an object');
      return { version, record: (record as Record<string, unknown>)[DELETED] === true ? undefined : record };
    } catch (err) {
      const damaged = new IntegrityError(
        `Catalog file ${path} is damaged (not a JSON record). Run \`tidemark catalog rebuild\`: it rewrites the item from the repository.`,
        { cause: err },
      );
      return { version, damaged };
    }
  }

  /** Every item's current version, in no particular order (names that are not ids are skipped). */
  async all(kind: ItemKind): Promise<CurrentVersion[]> {
    const ids = (await readdirIfExists(join(this.root, `${kind}s`))).filter(isItemId);
    const items = await Promise.all(ids.map((id) => this.current(kind, id)));
    return items.filter((item) => item !== undefined);
  }

  private itemDir(kind: ItemKind, id: ItemId): string {
    return join(this.root, `${kind}s`, id);
  }
}

const VERSION = /^(\d{6,})\.json$/;

function versionName(version: number): string {
  return `${String(version).padStart(6, '0')}.json`;
}

/** 0 for anything that is not a version file (temp files of crashed writers). */
function versionNumber(name: string): number {
  const match = VERSION.exec(name);
  return match ? Number(match[1]) : 0;
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
