// The repository's blob storage: the one layer that knows where bytes live (a directory or
// an S3 prefix). Keys are relative, '/'-separated, built only by `repository/layout.ts`.
// Implementations: `src/adapters/fs-storage.ts` (a directory) and `src/adapters/s3-storage.ts`
// (an S3 prefix); both pass test/contract/storage-contract.ts.

export interface StoredObjectInfo {
  key: string;
  size: number;
}

export interface ListOptions {
  startAfter?: string;
}

export interface RepositoryStorage {
  /** Human description for messages, e.g. `/data/repo` or `s3://bucket/prefix`. Never holds secrets. */
  readonly location: string;

  /**
   * Writes `body` under `key` unless an object already exists there.
   * Returns `true` when this call wrote it, `false` when it already existed (then nothing is
   * written: objects are write-once). Atomic: a reader never sees a partial object, even if the
   * writer dies midway. Idempotent; safe to call concurrently for the same key and body.
   * Backends without exclusive create (S3 without conditional writes) may let several concurrent
   * callers on one absent key return true, keeping the last body written: callers race only with
   * identical bodies (content-addressed keys) or read the object back and use what is stored.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;

  /** The whole object. Throws `ObjectNotFoundError` when there is none. */
  get(key: string): Promise<Uint8Array>;

  /** Size of the object, or `undefined` when there is none. */
  head(key: string): Promise<StoredObjectInfo | undefined>;

  /**
   * Every object whose key starts with `prefix`, in lexicographic key order; with `startAfter`,
   * only those whose key sorts after it (S3's ListObjectsV2 StartAfter; any string, not
   * necessarily a key), so a reader that knows where the part it wants begins pays for that part only.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<StoredObjectInfo>;

  /**
   * Removes the object; succeeds when it is already gone. Only garbage collection deletes, and
   * the quarantine of a damaged chunk (repository/chunk-store.ts) moves one out of its key.
   */
  delete(key: string): Promise<void>;

  /**
   * Removes what writers that died left behind and no listing shows (the filesystem's
   * `.tmp-*` files) when last touched before `olderThan`, under `prefix` (default: everywhere);
   * the caller makes sure no writer alive there started before then. Idempotent. Backends whose
   * writes leave nothing behind return nothing (an S3 PUT is atomic; abandoned multipart uploads
   * go by the bucket's lifecycle rule).
   */
  removeAbandonedWrites(olderThan: Date, prefix?: string): Promise<{ removed: string[]; bytes: number }>;
}
