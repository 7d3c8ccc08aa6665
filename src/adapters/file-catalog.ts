// BackupCatalog in a local directory, with the semantics of the DynamoDB catalog's single-item
// conditional writes. On disk:
//   <dir>/backups/<backupId>/000001.json, 000002.json, ...
//   <dir>/restores/<restoreId>/000001.json, ...
//   <dir>/collections/<name>/000001.json, ...
//   <dir>/leases/<name>/000001.json, ...
// An item is a series of write-once versions; the highest-numbered one is the current record.
// Each version is written to a temp file, fsynced and hard-linked to its name (writeFileOnce),
// so a reader never sees a half-written version and exactly one writer can create version N+1:
// that is the compare-and-swap. Every write reads version N, decides, and writes N+1 (create:
// version 1 when there is none; finish: only from `running`; expire: only from `committed`;
// acquire a lease: only when it is free). A writer that loses the race (EEXIST) re-reads and
// decides again. A released lease is a last version marked `released` (files are never
// deleted). Older versions stay as the item's history; temp files of crashed writers are ignored.
// A damaged current version (bit rot, a hand edit: writes themselves are atomic) makes that one
// item unreadable — `get` names the file — but never the others: lists skip it, and a create of
// the same item (`catalog rebuild` importing it again from the repository) writes the next version
// over it.
// A full disk: gc must be able to take its lease to free space, so the catalog keeps a reserve
// file (`leases/.reserve`, 1 MiB) that a lease write deletes when the disk is full, and that is
// made again once there is room.
import { mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BackupNotFoundError, CatalogConflictError, IntegrityError, InvalidKeyError } from '#core/errors.ts';
import type { BackupCatalog, BackupRecord, CollectionRecord, Lease, RestoreRecord } from '#core/ports/catalog.ts';
import { writeFileOnce } from '#adapters/fs-storage.ts';
import { isDiskFull, osFailure } from '#adapters/os-errors.ts';

/** Space kept for lease writes on a full disk: 256 versions of 4 KiB blocks. */
const RESERVE_BYTES = 1024 * 1024;

type Finish<T> = Partial<T> & { state: 'committed' | 'failed' };
type Stateful = { state: string };
/** A lease version; the holder's release writes one more version with `released` set. */
type LeaseVersion = Lease & { released?: true };

export class FileCatalog implements BackupCatalog {
  readonly location: string;
  private readonly backups: VersionedItems<BackupRecord>;
  private readonly restores: VersionedItems<RestoreRecord>;
  private readonly collections: VersionedItems<CollectionRecord>;
  private readonly leases: VersionedItems<LeaseVersion>;
  private readonly reservePath: string;
  private reserveChecked = false;

  constructor(dir: string) {
    this.location = resolve(dir);
    const items = <T>(kind: string, idOf: (record: T) => string) =>
      new VersionedItems<T>(join(this.location, `${kind}s`), kind, idOf);
    this.backups = items('backup', (r) => r.backupId);
    this.restores = items('restore', (r) => r.restoreId);
    this.collections = items('collection', (r) => r.name);
    this.leases = items('lease', (r) => r.name);
    this.reservePath = join(this.location, 'leases', '.reserve');
    this.leases.onDiskFull = () => this.useReserve();
  }

  /** Makes the reserve if it is missing; best effort (a full disk simply has none yet). */
  private async keepReserve(): Promise<void> {
    if (await stat(this.reservePath).then(() => true, () => false)) return;
    await mkdir(dirname(this.reservePath), { recursive: true }).then(() => writeFile(this.reservePath, Buffer.alloc(RESERVE_BYTES), { flag: 'wx' })).catch(async () => {
      await unlink(this.reservePath).catch(() => undefined); // never leave a partial reserve that looks whole
    });
  }

  /** Frees the reserve for a lease write; false when there is none left. */
  private async useReserve(): Promise<boolean> {
    return unlink(this.reservePath).then(() => true, () => false);
  }

  async createBackup(record: BackupRecord): Promise<void> {
    await this.backups.create(record);
    if (!this.reserveChecked) {
      this.reserveChecked = true;
      await this.keepReserve();
    }
  }

  finishBackup(backupId: string, changes: Finish<BackupRecord>): Promise<BackupRecord> {
    return transition(this.backups, backupId, 'running', { ...changes, backupId }, this.backupNotFound);
  }

  getBackup(backupId: string): Promise<BackupRecord | undefined> {
    return this.backups.get(backupId);
  }

  async listBackups(): Promise<BackupRecord[]> {
    return (await this.backups.list()).sort(
      (a, b) =>
        Date.parse(a.startedAt) - Date.parse(b.startedAt) ||
        compare(a.startedAt, b.startedAt) ||
        compare(a.backupId, b.backupId),
    );
  }

  async unreadableItems(): Promise<string[]> {
    const all = await Promise.all([this.backups, this.collections, this.restores].map((items) => items.unreadable()));
    return all.flat();
  }

  /** Reads every item's current version from disk, so it is as current as getBackup. */
  async listRunningBackups(): Promise<BackupRecord[]> {
    return (await this.listBackups()).filter((b) => b.state === 'running');
  }

  createRestore(record: RestoreRecord): Promise<void> {
    return this.restores.create(record);
  }

  finishRestore(restoreId: string, changes: Finish<RestoreRecord>): Promise<RestoreRecord> {
    return transition(this.restores, restoreId, 'running', { ...changes, restoreId }, (id) =>
      new CatalogConflictError(`Restore ${id} is not in the catalog at ${this.location}; create it first.`));
  }

  getRestore(restoreId: string): Promise<RestoreRecord | undefined> {
    return this.restores.get(restoreId);
  }

  expireBackup(backupId: string, expiredAt: string): Promise<BackupRecord> {
    return transition(this.backups, backupId, 'committed', { state: 'expired', expiredAt }, this.backupNotFound);
  }

  importBackup(record: BackupRecord): Promise<void> {
    // create already writes the record in whatever state it has.
    return this.backups.create(record);
  }

  createCollection(record: CollectionRecord): Promise<void> {
    return this.collections.create(record);
  }

  getCollection(name: string): Promise<CollectionRecord | undefined> {
    return this.collections.get(name);
  }

  async listCollections(): Promise<CollectionRecord[]> {
    return (await this.collections.list()).sort((a, b) => compare(a.name, b.name));
  }

  async acquireLease(lease: Lease, now: Date): Promise<Lease | undefined> {
    // A damaged lease version names no holder that could ever release it: it counts as free.
    const { record, written } = await this.leases.update(lease.name, { overDamaged: true }, (current) =>
      !current || current.released || current.owner === lease.owner || Date.parse(current.expiresAt) <= now.getTime()
        ? lease
        : undefined,
    );
    if (written) await this.keepReserve();
    return written ? undefined : record;
  }

  async getLease(name: string): Promise<Lease | undefined> {
    const current = await this.leases.get(name);
    return current?.released ? undefined : current;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.leases.update(name, {}, (current) =>
      current && !current.released && current.owner === owner ? { ...current, released: true } : undefined,
    );
    await this.keepReserve();
  }

  private readonly backupNotFound = (id: string) =>
    new BackupNotFoundError(`Backup ${id} is not in the catalog at ${this.location}.`);
}

/**
 * Moves item `id` from state `from` to `changes.state`, merging `changes`. A repeat of the same
 * transition is a no-op that returns the stored record (the first writer's fields stay).
 */
async function transition<T extends Stateful>(
  items: VersionedItems<T>,
  id: string,
  from: string,
  changes: Partial<T> & Stateful,
  notFound: (id: string) => Error,
): Promise<T> {
  const { record } = await items.update(id, {}, (current) => {
    if (!current) throw notFound(id);
    if (current.state === from) return { ...current, ...changes };
    if (current.state === changes.state) return undefined;
    throw new CatalogConflictError(
      `Cannot mark ${items.kind} ${id} ${changes.state}: it is ${current.state}, and only a ${from} ` +
        `${items.kind} can become ${changes.state}.`,
    );
  });
  return record!;
}

/** One kind of catalog item kept as write-once version files. */
class VersionedItems<T> {
  /** Set for items that may use the disk reserve: frees it, false when none is left. */
  onDiskFull?: () => Promise<boolean>;

  constructor(
    private readonly dir: string,
    readonly kind: string,
    private readonly idOf: (record: T) => string,
  ) {}

  /**
   * Writes version 1; a retry with the identical record is a no-op, any other record a conflict.
   * Over a damaged current version, writes the next one (the repair `catalog rebuild` makes).
   */
  async create(record: T): Promise<void> {
    const id = this.idOf(record);
    await this.update(id, { overDamaged: true }, (current) => {
      if (!current) return record;
      if (encode(current) === encode(record)) return undefined; // retry of the same create
      throw new CatalogConflictError(
        `Cannot create ${this.kind} ${id}: it already exists with different content. Use a new id.`,
      );
    });
  }

  /**
   * The compare-and-swap: `next` sees the current record and returns the next one, or undefined
   * to leave it. When another writer got there first, `next` runs again on what that writer wrote.
   * Returns the record now current and whether this call wrote it.
   */
  async update(id: string, options: { overDamaged?: boolean }, next: (current: T | undefined) => T | undefined): Promise<{ record: T | undefined; written: boolean }> {
    const itemDir = this.itemDir(id);
    for (;;) {
      const current = await this.current(itemDir);
      if (current?.damaged && !options.overDamaged) throw current.damaged;
      const record = next(current?.record);
      if (record === undefined) return { record: current?.record, written: false };
      const body = encode(record);
      const path = join(itemDir, versionName((current?.version ?? 0) + 1));
      try {
        await mkdir(itemDir, { recursive: true });
        if (await writeFileOnce(path, body)) return { record: JSON.parse(body) as T, written: true };
      } catch (err) {
        if (isDiskFull(err) && this.onDiskFull && (await this.onDiskFull())) continue;
        throw osFailure(err, 'write', `the catalog's ${this.kind} ${id} (${path})`);
      }
    }
  }

  /** The current record; `IntegrityError` naming the file when it is damaged. */
  async get(id: string): Promise<T | undefined> {
    const current = await this.current(this.itemDir(id));
    if (current?.damaged) throw current.damaged;
    return current?.record;
  }

  /** Every readable item, in no particular order; a damaged one is left out (`get` names it). */
  async list(): Promise<T[]> {
    const ids = (await readdirIfExists(this.dir)).filter((name) => ID.test(name));
    const items = await Promise.all(ids.map((id) => this.current(this.itemDir(id))));
    return items.flatMap((item) => (item && !item.damaged ? [item.record!] : []));
  }

  /** What `list` leaves out: each damaged item's message. */
  async unreadable(): Promise<string[]> {
    const ids = (await readdirIfExists(this.dir)).filter((name) => ID.test(name));
    const items = await Promise.all(ids.map((id) => this.current(this.itemDir(id))));
    return items.flatMap((item) => (item?.damaged ? [item.damaged.message] : []));
  }

  /** The highest complete version, or undefined when the item has none (yet). */
  private async current(itemDir: string): Promise<{ version: number; record?: T; damaged?: IntegrityError } | undefined> {
    const version = Math.max(0, ...(await readdirIfExists(itemDir)).map(versionNumber));
    if (version === 0) return undefined;
    const path = join(itemDir, versionName(version));
    const text = await readFile(path, 'utf8');
    try {
      const record = JSON.parse(text) as T;
      if (!record || typeof record !== 'object' || Array.isArray(record)) throw new Error('not an object');
      return { version, record };
    } catch (err) {
      const damaged = new IntegrityError(
        `Catalog file ${path} is damaged (not a JSON record). Run \`tidemark catalog rebuild\`: it rewrites the item from the repository.`,
        { cause: err },
      );
      return { version, damaged };
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
