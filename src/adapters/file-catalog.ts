// BackupCatalog in a local directory, with the semantics of the DynamoDB catalog's single-item
// conditional writes. On disk:
//   <dir>/backups/<backupId>/000001.json, 000002.json, ...
//   <dir>/restores/<restoreId>/000001.json, ...
// An item is a series of write-once versions; the highest-numbered one is the current record.
// Each version is written to a temp file, fsynced and hard-linked to its name (writeFileOnce),
// so a reader never sees a half-written version and exactly one writer can create version N+1:
// that is the compare-and-swap. create = write version 1; finish = read version N, check it is
// `running`, write N+1. A writer that loses the race (EEXIST) re-reads and re-checks. Older
// versions stay as the item's history; temp files of crashed writers are ignored.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BackupNotFoundError, CatalogConflictError, IntegrityError, InvalidKeyError } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, RestoreRecord, RunState } from '#core/ports/catalog.ts';
import { writeFileOnce } from '#adapters/fs-storage.ts';

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };

export class FileCatalog implements BackupCatalog {
  readonly location: string;
  private readonly backups: VersionedItems<BackupRecord>;
  private readonly restores: VersionedItems<RestoreRecord>;

  constructor(dir: string) {
    this.location = resolve(dir);
    this.backups = new VersionedItems(join(this.location, 'backups'), 'backup', (r) => r.backupId, (id) =>
      new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`));
    this.restores = new VersionedItems(join(this.location, 'restores'), 'restore', (r) => r.restoreId, (id) =>
      new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`));
  }

  createBackup(record: BackupRecord): Promise<void> {
    return this.backups.create(record);
  }

  finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> {
    return this.backups.finish(backupId, { ...changes, backupId });
  }

  getBackup(backupId: string): Promise<BackupRecord | undefined> {
    return this.backups.get(backupId);
  }

  listBackups(): Promise<BackupRecord[]> {
    return this.backups.list();
  }

  createRestore(record: RestoreRecord): Promise<void> {
    return this.restores.create(record);
  }

  finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> {
    return this.restores.finish(restoreId, { ...changes, restoreId });
  }

  getRestore(restoreId: string): Promise<RestoreRecord | undefined> {
    return this.restores.get(restoreId);
  }
}

/** One kind of catalog item (backups or restores) kept as write-once version files. */
class VersionedItems<T extends { state: RunState; startedAt: string }> {
  constructor(
    private readonly dir: string,
    private readonly kind: string,
    private readonly idOf: (record: T) => string,
    private readonly notFound: (id: string) => Error,
  ) {}

  async create(record: T): Promise<void> {
    const id = this.idOf(record);
    const itemDir = this.itemDir(id);
    await mkdir(itemDir, { recursive: true });
    if (await writeFileOnce(join(itemDir, versionName(1)), encode(record))) return;
    const current = await this.current(id);
    if (current && encode(current.record) === encode(record)) return; // retry of the same create
    throw new CatalogConflictError(
      `Cannot create ${this.kind} ${id}: it already exists with different content ` +
        `(state ${current?.record.state}). Use a new id.`,
    );
  }

  async finish(id: string, changes: Finish<T>): Promise<T> {
    // At most two rounds: a lost race means another writer moved the item out of `running`.
    for (;;) {
      const current = await this.current(id);
      if (!current) throw this.notFound(id);
      const { version, record } = current;
      if (record.state !== 'running') {
        // Same target state = a retry of the same transition; the first writer's fields stay.
        if (record.state === changes.state) return record;
        throw new CatalogConflictError(
          `Cannot mark ${this.kind} ${id} ${changes.state}: it is already ${record.state}.`,
        );
      }
      const body = encode({ ...record, ...changes });
      if (await writeFileOnce(join(this.itemDir(id), versionName(version + 1)), body)) {
        return JSON.parse(body) as T;
      }
    }
  }

  async get(id: string): Promise<T | undefined> {
    return (await this.current(id))?.record;
  }

  /** Oldest first: by startedAt as an instant, then by id. */
  async list(): Promise<T[]> {
    const ids = (await readdirIfExists(this.dir)).filter((name) => ID.test(name));
    const records = (await Promise.all(ids.map((id) => this.get(id)))).filter((r) => r !== undefined);
    return records.sort(
      (a, b) =>
        Date.parse(a.startedAt) - Date.parse(b.startedAt) ||
        compare(a.startedAt, b.startedAt) ||
        compare(this.idOf(a), this.idOf(b)),
    );
  }

  /** The highest complete version, or undefined when the item has none (yet). */
  private async current(id: string): Promise<{ version: number; record: T } | undefined> {
    const itemDir = this.itemDir(id);
    const version = Math.max(0, ...(await readdirIfExists(itemDir)).map(versionNumber));
    if (version === 0) return undefined;
    const path = join(itemDir, versionName(version));
    const text = await readFile(path, 'utf8');
    try {
      return { version, record: JSON.parse(text) as T };
    } catch (err) {
      throw new IntegrityError(`Catalog file ${path} is not valid JSON; restore it or rebuild the catalog.`, {
        cause: err,
      });
    }
  }

  private itemDir(id: string): string {
    if (!ID.test(id)) {
      throw new InvalidKeyError(
        `Invalid ${this.kind} id ${JSON.stringify(id)}: use letters, digits and . _ : - ` +
          '(not first), at most 200 characters.',
      );
    }
    return join(this.dir, id);
  }
}

/** Ids become directory names, so they must be safe ones. */
const ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,199}$/;
const VERSION = /^(\d{6,})\.json$/;

function versionName(version: number): string {
  return `${String(version).padStart(6, '0')}.json`;
}

/** 0 for anything that is not a version file (temp files of crashed writers). */
function versionNumber(name: string): number {
  const match = VERSION.exec(name);
  return match ? Number(match[1]) : 0;
}

/** Canonical JSON (sorted keys, undefined dropped) so equal records encode equally. */
function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
