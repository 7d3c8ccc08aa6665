// The repository key (DESIGN.md invariant 10): a secret the repository does not hold, with which
// every document Tidemark acts on is authenticated (HMAC-SHA256 in the document's header, see
// documents.ts). Whoever can write the repository but has no key cannot make a document a reader
// with the key accepts: not by editing and re-sealing it, nor by copying one from elsewhere (the
// MAC covers the key the document belongs at). Locally the key is `$TIDEMARK_KEY` (64 hex digits)
// or a key file; in AWS it will be a KMS HMAC key (kms:GenerateMac / kms:VerifyMac).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RepositoryStorage } from '../ports/storage.ts';
import { UsageError } from '../errors.ts';

/**
 * What authenticates documents: a MAC over a message, and its check. Asynchronous, so a key held
 * by a service (KMS GenerateMac / VerifyMac in AWS) implements it as well as a local key.
 */
export interface DocumentAuthenticator {
  /** Names the key in headers and messages without revealing it. */
  readonly id: string;
  mac(message: string): Promise<string>;
  verify(message: string, mac: string): Promise<boolean>;
}

/** A local key: HMAC-SHA256 with 256 secret bits. */
export class RepositoryKey implements DocumentAuthenticator {
  /** Names the key in messages and headers without revealing it. */
  readonly id: string;

  private constructor(private readonly secret: Buffer) {
    this.id = createHmac('sha256', secret).update('tidemark repository key id').digest('hex').slice(0, 16);
  }

  /** A key from its text form (64 hex digits); `origin` names where it came from, for errors. */
  static parse(text: string, origin: string): RepositoryKey {
    const hex = text.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new UsageError(
        `${origin} is not a Tidemark repository key: it must be 64 hexadecimal digits (256 bits). Create one with \`openssl rand -hex 32\`.`,
      );
    }
    return new RepositoryKey(Buffer.from(hex, 'hex'));
  }

  /** A new random key and its text form (to store in a key file). */
  static generate(): { key: RepositoryKey; text: string } {
    const text = randomBytes(32).toString('hex');
    return { key: RepositoryKey.parse(text, 'a new key'), text };
  }

  async mac(message: string): Promise<string> {
    return this.macNow(message);
  }

  async verify(message: string, mac: string): Promise<boolean> {
    const expected = Buffer.from(this.macNow(message), 'hex');
    const given = Buffer.from(/^[0-9a-f]{64}$/.test(mac) ? mac : '', 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private macNow(message: string): string {
    return createHmac('sha256', this.secret).update(message).digest('hex');
  }
}

// The key travels with the storage it authenticates, so that no call site of the registry
// passes it: the context that opens a repository sets it once.
const keys = new WeakMap<RepositoryStorage, DocumentAuthenticator>();

export function authenticateWith(storage: RepositoryStorage, key: DocumentAuthenticator): void {
  keys.set(storage, key);
}

export function repositoryKeyOf(storage: RepositoryStorage): DocumentAuthenticator | undefined {
  return keys.get(storage);
}

// Likewise the id of the repository the storage holds (its marker's `repositoryId`), set by
// openRepository: documents are written naming it, and one naming another repository is refused.
const repositoryIds = new WeakMap<RepositoryStorage, string>();

export function bindRepositoryId(storage: RepositoryStorage, repositoryId: string): void {
  repositoryIds.set(storage, repositoryId);
}

export function repositoryIdOf(storage: RepositoryStorage): string | undefined {
  return repositoryIds.get(storage);
}

// An AWS task's container has no step that opens the repository (only BackupStart reads the
// marker, to put it when there is none): it binds on its first document instead, so every task
// writes documents naming its repository and refuses those naming another, as a local run does.
const binders = new WeakMap<RepositoryStorage, () => Promise<void>>();

/** Reads the marker (`bind`, which calls bindRepositoryId) before the first document read or written through `storage`. */
export function bindOnFirstDocument(storage: RepositoryStorage, bind: () => Promise<void>): void {
  let pending: Promise<void> | undefined;
  binders.set(storage, () => {
    // One read for concurrent first uses; a failed read (throttling, a network error) is tried again.
    pending ??= bind().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
  });
}

/** The id documents through `storage` are bound to, reading the marker first where bindOnFirstDocument asked for it. */
export async function repositoryIdFor(storage: RepositoryStorage): Promise<string | undefined> {
  const bound = repositoryIds.get(storage);
  if (bound !== undefined) return bound;
  await binders.get(storage)?.();
  return repositoryIds.get(storage);
}
