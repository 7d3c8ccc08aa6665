// Opening a repository: its marker object says what it is and which format it uses.
import type { RepositoryStorage } from '../ports/storage.ts';
import { RepositoryError, ObjectNotFoundError, IntegrityError } from '../errors.ts';
import { layout } from './layout.ts';
import { FORMAT_VERSION } from './sealed-document.ts';
import { decodeDocument, peekDocument, encodeDocument } from './documents.ts';
import { repositoryMarkerKind, type RepositoryMarker } from './document-formats.ts';
import { randomUUID } from 'node:crypto';
import { bindRepositoryId, repositoryIdOf, repositoryKeyOf } from './repository-key.ts';

export const REPOSITORY_FORMAT = repositoryMarkerKind.format;
export type { RepositoryMarker } from './document-formats.ts';

/**
 * Reads the marker; a repository created with a key (the marker names its id) is opened only with
 * that key, and one created without is not opened with one (its documents carry no MAC).
 */
async function openMarker(storage: RepositoryStorage, bytes: Uint8Array): Promise<RepositoryMarker> {
  const marker = await checkMarker(storage, bytes);
  // A storage that opened one repository (a warm Lambda container) never silently moves to another:
  // a marker replaced since is refused, and documents keep being checked against the first id.
  const opened = repositoryIdOf(storage);
  if (opened !== undefined && opened !== marker.repositoryId) {
    throw new IntegrityError(
      `Repository marker ${layout.marker()} at ${storage.location} names repository ${marker.repositoryId}, but this process ` +
        `opened repository ${opened} there: the marker was replaced. Tidemark does not write into it; find out who replaced it, ` +
        `and put the original marker back from a copy of the repository (or an earlier version of the object).`,
    );
  }
  bindRepositoryId(storage, marker.repositoryId);
  return marker;
}

async function checkMarker(storage: RepositoryStorage, bytes: Uint8Array): Promise<RepositoryMarker> {
  const given = repositoryKeyOf(storage);
  const unchecked = await peekDocument(repositoryMarkerKind, {}, bytes);
  if (unchecked.keyId && !given) {
    throw new RepositoryError(
      `${storage.location} authenticates its documents with a repository key (key id ${unchecked.keyId}) and no key was given. ` +
        (unchecked.keyId.startsWith('kms-')
          ? 'It was written in AWS: set $TIDEMARK_KMS_MAC_KEY_ARN to the stack output RepositoryMacKeyArn.'
          : 'Set $TIDEMARK_KEY (64 hex digits) or $TIDEMARK_KEY_FILE (a file holding them).'),
    );
  }
  if (given && !unchecked.keyId) {
    throw new RepositoryError(
      `${storage.location} was created without a repository key (its marker ${layout.marker()} names none, or was forged without one), ` +
        `so its documents cannot be authenticated with key ${given.id}. ` +
        'Unset $TIDEMARK_KEY and $TIDEMARK_KEY_FILE for it, or back up into a new repository created with the key; ' +
        'if it was created with the key, put its marker back from a copy of the repository and audit who wrote it.',
    );
  }
  return given ? decodeDocument(repositoryMarkerKind, {}, bytes, given) : unchecked;
}

/**
 * Returns the repository's marker. With `create`, an empty location becomes a new repository;
 * a location holding anything else is refused.
 */
export async function openRepository(
  storage: RepositoryStorage,
  options: { create: boolean },
): Promise<RepositoryMarker> {
  const key = layout.marker();
  try {
    return await openMarker(storage, await storage.get(key));
  } catch (err) {
    if (err instanceof IntegrityError) throw unusable(storage, err);
    if (!(err instanceof ObjectNotFoundError)) throw err;
  }
  const hasObjects = await firstObject(storage);
  // Another process may have created the repository between our two reads: its marker wins.
  if (hasObjects && (await storage.head(key))) return openMarker(storage, await storage.get(key));
  if (!options.create || hasObjects) {
    throw new RepositoryError(
      hasObjects
        ? `${storage.location} is not a Tidemark repository (it holds other files, e.g. ${hasObjects}, and no ${key}). Pass the directory of a repository with --repo, or a new or empty directory to create one.`
        : `${storage.location} is not a Tidemark repository (no ${key}). Pass an existing repository with --repo (default: $TIDEMARK_REPO, else ./tidemark-repo), or run \`tidemark backup\` to create one.`,
    );
  }
  return writeMarker(storage);
}

/**
 * The marker of a repository its writer is given rather than creates (the AWS tasks: the stack
 * made the bucket, and runs may have written objects before any marker): read it, or write one
 * (put-if-absent) when there is none, whatever else the location holds. Afterwards the local CLI
 * opens the repository like any other.
 */
export async function ensureRepositoryMarker(storage: RepositoryStorage): Promise<RepositoryMarker> {
  try {
    return await openMarker(storage, await storage.get(layout.marker()));
  } catch (err) {
    if (err instanceof IntegrityError) throw unusable(storage, err);
    if (!(err instanceof ObjectNotFoundError)) throw err;
  }
  return writeMarker(storage).catch((err: unknown) => {
    throw err instanceof IntegrityError ? unusable(storage, err) : err;
  });
}

/**
 * Binds `storage` to the repository its marker names, when it has one: what an AWS task's
 * container does before its first document (bindOnFirstDocument), where no step opens the
 * repository. Without a marker (a bucket no backup has run in yet) nothing is bound, as before:
 * BackupStart puts the marker and binds.
 */
export async function bindToMarker(storage: RepositoryStorage): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(layout.marker());
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return;
    throw err;
  }
  try {
    await openMarker(storage, bytes);
  } catch (err) {
    throw err instanceof IntegrityError ? unusable(storage, err) : err;
  }
}

function unusable(storage: RepositoryStorage, err: IntegrityError): RepositoryError {
  return new RepositoryError(`${storage.location} is not a usable Tidemark repository: ${err.message}`, { cause: err });
}

async function writeMarker(storage: RepositoryStorage): Promise<RepositoryMarker> {
  const key = layout.marker();
  const repositoryKey = repositoryKeyOf(storage);
  const created: RepositoryMarker = {
    repositoryId: randomUUID(),
    createdAt: new Date().toISOString(),
    formatVersion: FORMAT_VERSION,
    ...(repositoryKey ? { keyId: repositoryKey.id } : {}),
  };
  await storage.putIfAbsent(key, await encodeDocument(repositoryMarkerKind, {}, created, repositoryKey));
  // Two creators may race: the marker that won is the repository's.
  return openMarker(storage, await storage.get(key));
}

async function firstObject(storage: RepositoryStorage): Promise<string | undefined> {
  for await (const object of storage.list('')) return object.key;
  return undefined;
}
