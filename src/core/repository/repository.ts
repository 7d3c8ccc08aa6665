// Opening a repository: its marker object says what it is and which format it uses.
import type { RepositoryStorage } from '../ports/storage.ts';
import { RepositoryError, ObjectNotFoundError, IntegrityError } from '../errors.ts';
import { layout } from './layout.ts';
import { FORMAT_VERSION } from './sealed-document.ts';
import { decodeDocument, encodeDocument } from './documents.ts';
import { repositoryMarkerKind, type RepositoryMarker } from './document-formats.ts';
import { randomUUID } from 'node:crypto';

export const REPOSITORY_FORMAT = repositoryMarkerKind.format;
export type { RepositoryMarker } from './document-formats.ts';
const marker = (bytes: Uint8Array) => decodeDocument(repositoryMarkerKind, {}, bytes);

/**
 * Returns the repository's marker. With `create`, an empty location becomes a new repository;
 * a location holding anything else is refused.
 */
export async function openRepository(storage: RepositoryStorage, options: { create: boolean }): Promise<RepositoryMarker> {
  const key = layout.marker();
  try {
    return marker(await storage.get(key));
  } catch (err) {
    if (err instanceof IntegrityError) {
      throw new RepositoryError(`${storage.location} is not a usable Tidemark repository: ${err.message}`, { cause: err });
    }
    if (!(err instanceof ObjectNotFoundError)) throw err;
  }
  const hasObjects = await firstObject(storage);
  // Another process may have created the repository between our two reads: its marker wins.
  if (hasObjects && (await storage.head(key))) return marker(await storage.get(key));
  if (!options.create || hasObjects) {
    throw new RepositoryError(
      hasObjects
        ? `${storage.location} is not a Tidemark repository (it holds other files, e.g. ${hasObjects}, and no ${key}). Pass the directory of a repository with --repo, or a new or empty directory to create one.`
        : `${storage.location} is not a Tidemark repository (no ${key}). Pass an existing repository with --repo (default: $TIDEMARK_REPO, else ./tidemark-repo), or run \`tidemark backup\` to create one.`,
    );
  }
  const created: RepositoryMarker = { repositoryId: randomUUID(), createdAt: new Date().toISOString(), formatVersion: FORMAT_VERSION };
  await storage.putIfAbsent(key, encodeDocument(repositoryMarkerKind, {}, created));
  // Two creators may race: the marker that won is the repository's.
  return marker(await storage.get(key));
}

async function firstObject(storage: RepositoryStorage): Promise<string | undefined> {
  for await (const object of storage.list('')) return object.key;
  return undefined;
}
