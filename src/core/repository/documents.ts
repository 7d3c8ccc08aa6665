// The registry of repository documents (FORMAT.md, "Documents"): every JSON document Tidemark
// writes to a repository is read and written here, and only here. A kind says where its
// documents live (`keyOf`), what they must hold (a zod schema, checked on every read instead of
// trusting a cast) and what they say they are (`placeOf`: backup id, collection, batch …).
// A document is bound to its key twice: its header names the key it was written under, and its
// body's identity must be the one its key implies. A manifest copied to another backup's
// directory, or a tombstone copied next to the newest backup, is refused by name.
//
// Authentication (a MAC with a key the repository does not hold) belongs here too: `sealFor`
// and `openFor` are the only places a document is framed, so a keyed seal can be added without
// touching a call site.
import type { z } from 'zod';
import type { RepositoryStorage } from '../ports/storage.ts';
import { IntegrityError, UsageError } from '../errors.ts';
import {
  macMessage,
  openSealed,
  sealDocument,
  sealSignedDocument,
  withHeader,
  type Header,
} from './sealed-document.ts';
import { repositoryIdFor, repositoryKeyOf, type DocumentAuthenticator } from './repository-key.ts';

/** Where a document belongs: the fields its key is built from. */
export type Place = Record<string, string | number>;

export interface DocumentKind<T, P extends Place> {
  /** The header's `format`; also what messages call the document. */
  readonly format: string;
  /** A human name for messages: `Manifest`, `Tombstone` … */
  readonly title: string;
  readonly schema: z.ZodType;
  keyOf(place: P): string;
  /** The identity the body claims, as the place fields it must match (only those it holds). */
  placeOf(body: T): Partial<P>;
  /** Typing only: the body type of this kind. */
  readonly _body?: T;
}

export function documentKind<T, P extends Place>(kind: Omit<DocumentKind<T, P>, '_body'>): DocumentKind<T, P> {
  return kind;
}

/**
 * The bytes to store for `body` at `place`, authenticated by `authenticator` when given;
 * refuses (a bug) a body that claims another place.
 */
export async function encodeDocument<T, P extends Place>(
  kind: DocumentKind<T, P>,
  place: P,
  body: T,
  authenticator?: DocumentAuthenticator,
  repositoryId?: string,
): Promise<Uint8Array> {
  if (!authenticator) return encodeUnauthenticated(kind, place, body);
  checkPlace(kind, place, body);
  return sealSignedDocument(
    kind.format,
    body,
    kind.keyOf(place),
    async (header: Header) => ({ keyId: authenticator.id, mac: await authenticator.mac(macMessage(header)) }),
    repositoryId,
  );
}

/** The bytes of a document without a MAC (repositories without a key; tests). */
export function encodeUnauthenticated<T, P extends Place>(kind: DocumentKind<T, P>, place: P, body: T): Uint8Array {
  checkPlace(kind, place, body);
  return sealDocument(kind.format, body, kind.keyOf(place));
}

function checkPlace<T, P extends Place>(kind: DocumentKind<T, P>, place: P, body: T): void {
  const mismatch = placeMismatch(kind, place, body);
  if (mismatch)
    throw new IntegrityError(
      `Refusing to write ${kind.title} ${kind.keyOf(place)}: its body says ${mismatch}. This is a bug in the caller.`,
    );
}

/** Writes the document unless its key holds one; `true` when this call wrote it. */
export async function writeDocument<T, P extends Place>(
  storage: RepositoryStorage,
  kind: DocumentKind<T, P>,
  place: P,
  body: T,
): Promise<boolean> {
  const bytes = await encodeDocument(kind, place, body, repositoryKeyOf(storage), await repositoryIdFor(storage));
  return storage.putIfAbsent(kind.keyOf(place), bytes);
}

/** Reads, verifies, authenticates, validates and checks the binding; `ObjectNotFoundError` when absent. */
export async function readDocument<T, P extends Place>(
  storage: RepositoryStorage,
  kind: DocumentKind<T, P>,
  place: P,
): Promise<T> {
  const bytes = await storage.get(kind.keyOf(place));
  return (await decodeEntry(kind, place, bytes, repositoryKeyOf(storage), false, await repositoryIdFor(storage)))
    .document;
}

/** The checks of readDocument on bytes already read from `kind.keyOf(place)`. */
export async function decodeDocument<T, P extends Place>(
  kind: DocumentKind<T, P>,
  place: P,
  bytes: Uint8Array,
  authenticator?: DocumentAuthenticator,
): Promise<T> {
  return (await decodeEntry(kind, place, bytes, authenticator)).document;
}

/**
 * The checks of decodeDocument but the MAC's, to learn what a document says before any key is
 * at hand — only for the repository marker, which names the key its repository needs. Nothing
 * may act on what this returns but the choice of key.
 */
export async function peekDocument<T, P extends Place>(
  kind: DocumentKind<T, P>,
  place: P,
  bytes: Uint8Array,
): Promise<T> {
  return (await decodeEntry(kind, place, bytes, undefined, true)).document;
}

/** readDocument, also saying whether the writer bound the header to its key (all writers since the registry do). */
export async function readDocumentEntry<T, P extends Place>(
  storage: RepositoryStorage,
  kind: DocumentKind<T, P>,
  place: P,
): Promise<{ document: T; keyed: boolean }> {
  const bytes = await storage.get(kind.keyOf(place));
  return decodeEntry(kind, place, bytes, repositoryKeyOf(storage), false, await repositoryIdFor(storage));
}

async function decodeEntry<T, P extends Place>(
  kind: DocumentKind<T, P>,
  place: P,
  bytes: Uint8Array,
  authenticator: DocumentAuthenticator | undefined,
  peek = false,
  repositoryId?: string,
): Promise<{ document: T; keyed: boolean }> {
  const key = kind.keyOf(place);
  const what = `${kind.title} ${key}`;
  const { header, body } = openSealed(kind.format, bytes, what);
  if (authenticator) await authenticate(header, authenticator, what);
  else if (header.mac && !peek) {
    // Read without the key it was written with, it could not be checked: refuse rather than act
    // on it unauthenticated (the key is missing, not the document's fault: say which to set).
    throw new UsageError(
      `${what} is authenticated with repository key ${header.keyId ?? '(unnamed)'}, and no key is set here to check it. ` +
        'Set TIDEMARK_KMS_MAC_KEY_ARN (the stack output RepositoryMacKeyArn) for a repository written in AWS, or TIDEMARK_KEY / TIDEMARK_KEY_FILE for a local one.',
    );
  }
  if (header.key !== undefined && header.key !== key) {
    throw new IntegrityError(
      `${what} was written as ${header.key}: a document moved or copied from where it belongs is never used. ` +
        `Remove ${key} (or put the right document back from a copy of the repository).`,
    );
  }
  if (repositoryId !== undefined && header.repository !== undefined && header.repository !== repositoryId) {
    throw new IntegrityError(
      `${what} belongs to repository ${header.repository}, not to this one (${repositoryId}): a document copied from another ` +
        `repository is never used. Remove ${key} (or put the right document back from a copy of this repository).`,
    );
  }
  const parsed = kind.schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new IntegrityError(
      `${what} is not a valid ${kind.format}: ${issue.path.join('.') || '(top level)'}: ${issue.message}. ` +
        'It passes its checksum, so it was written that way (a bug or a forgery); use another backup.',
    );
  }
  // The schema accepted the body, so it has this kind's shape: the one cast of a document.
  const document = parsed.data as T;
  const mismatch = placeMismatch(kind, place, document);
  if (mismatch) {
    throw new IntegrityError(
      `${what} says ${mismatch}: a document moved or copied from where it belongs is never used. ` +
        `Remove ${key} (or put the right document back from a copy of the repository).`,
    );
  }
  return { document, keyed: header.key !== undefined };
}

/**
 * Repository seal (seal.ts): the bytes of a document written without a MAC, with one by
 * `authenticator` and naming `repositoryId`; `undefined` when it already carries this key's valid
 * MAC. Every check of a read but the MAC's comes first (checksum, binding to its key, schema), and
 * a failure throws `IntegrityError` naming the document: only what is intact gets sealed. The
 * header keeps its `key` field, or its absence (a manifest without it predates commit markers).
 */
export async function sealExisting<T, P extends Place>(
  kind: DocumentKind<T, P>,
  place: P,
  bytes: Uint8Array,
  authenticator: DocumentAuthenticator,
  repositoryId: string,
): Promise<Uint8Array | undefined> {
  const what = `${kind.title} ${kind.keyOf(place)}`;
  const { header } = openSealed(kind.format, bytes, what);
  if (header.mac) {
    await authenticate(header, authenticator, what);
    return undefined;
  }
  await decodeEntry(kind, place, bytes, undefined, true, repositoryId);
  const unsigned: Header = { ...header, repository: header.repository ?? repositoryId };
  const mac = await authenticator.mac(macMessage(unsigned));
  return withHeader(bytes, { ...unsigned, keyId: authenticator.id, mac });
}

/** With a repository key, only a document it authenticates is used; the message names why not. */
async function authenticate(header: Header, authenticator: DocumentAuthenticator, what: string): Promise<void> {
  const problem = !header.mac
    ? 'carries no authentication (written without the repository key, or forged)'
    : header.keyId !== authenticator.id
      ? `was authenticated with another key (key id ${header.keyId}; this repository's key is ${authenticator.id})`
      : !(await authenticator.verify(macMessage(header), header.mac))
        ? 'does not authenticate: it was changed after it was written (edited and re-sealed, or forged)'
        : undefined;
  if (problem) {
    throw new IntegrityError(
      `${what} ${problem}. Tidemark does not act on it. Restore the object from a copy of the repository, or use another backup; ` +
        'if the repository may have been written by someone without the key, audit it.',
    );
  }
}

function placeMismatch<T, P extends Place>(kind: DocumentKind<T, P>, place: P, body: T): string | undefined {
  const claimed = kind.placeOf(body);
  const wrong = Object.entries(claimed).filter(([field, value]) => value !== place[field]);
  if (wrong.length === 0) return undefined;
  return wrong
    .map(([field, value]) => `${field} ${JSON.stringify(value)} (its key says ${JSON.stringify(place[field])})`)
    .join(' and ');
}
