// `tidemark repository seal` (FORMAT.md, "Sealing a repository written without a key"): the
// operator, holding the repository key, asserts that the repository's current content is trusted.
// Every document without a MAC that passes every other check of a read (checksum, binding to its
// key, schema) is rewritten with one, its body byte for byte; a document that fails is named and
// left alone. Last, the marker names the key: from then on every reader refuses a document without
// a MAC. Objects are write-once, so a document is replaced through a sealed copy under `sealing/`
// (written first, removed last): a seal killed midway is finished by the next one. Idempotent.
import type { RepositoryStorage } from '../ports/storage.ts';
import { IntegrityError, ObjectNotFoundError, RepositoryError } from '../errors.ts';
import {
  decodeDocument,
  encodeDocument,
  peekDocument,
  sealExisting,
  type DocumentKind,
  type Place,
} from './documents.ts';
import {
  collectionKind,
  commitMarkerKind,
  exportResultKind,
  manifestKind,
  planHeaderKind,
  planTasksKind,
  repositoryMarkerKind,
  segmentKind,
  snapshotKind,
  snapshotReleaseKind,
  tombstoneKind,
} from './document-formats.ts';
import { openSealed } from './sealed-document.ts';
import { ensureRepositoryMarker } from './repository.ts';
import { bindRepositoryId, type DocumentAuthenticator } from './repository-key.ts';
import { layout } from './layout.ts';

export interface SealReport {
  repositoryId: string;
  keyId: string;
  /** Documents this run gave a MAC. */
  sealed: string[];
  /** Documents that already carried this key's valid MAC. */
  alreadySealed: number;
  /** Documents that failed a check, left as they are (readers will refuse them). */
  refused: { key: string; problem: string }[];
  /** Whether this run made the marker name the key (false: it already did). */
  markerSealed: boolean;
}

// One table of every kind, each with its own body type.
type AnyKind = DocumentKind<any, Place>;

/** The document kind and place of a key, from the layout; `undefined` for what is no document. */
export function documentAt(key: string): { kind: AnyKind; place: Place } | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^backups\/([^/]+)\/(manifest|committed|expired)\.json$/.exec(key))) {
    const kind = { manifest: manifestKind, committed: commitMarkerKind, expired: tombstoneKind }[m[2]!]!;
    return { kind: kind as AnyKind, place: { backupId: m[1]! } };
  }
  if ((m = /^collections\/([^/]+)\.json$/.exec(key)))
    return { kind: collectionKind as AnyKind, place: { name: m[1]! } };
  if ((m = /^runs\/([^/]+)\/(tasks|results)\/(\d{6})\.json$/.exec(key))) {
    const kind = m[2] === 'tasks' ? planTasksKind : exportResultKind;
    return { kind: kind as AnyKind, place: { runId: m[1]!, batch: Number(m[3]) } };
  }
  if ((m = /^runs\/([^/]+)\/(plan|snapshot|snapshot-released)\.json$/.exec(key))) {
    const kind = { plan: planHeaderKind, snapshot: snapshotKind, 'snapshot-released': snapshotReleaseKind }[m[2]!]!;
    return { kind: kind as AnyKind, place: { runId: m[1]! } };
  }
  if ((m = /^segments\/([^/]+)\/([^/]+)\/[0-9A-F]{16}-(\d{4})\.json$/.exec(key))) {
    // The LSN's text is the body's (`afterLsn`); fullPlace checks that it builds this very key.
    return { kind: segmentKind as AnyKind, place: { collection: m[1]!, chain: m[2]!, part: Number(m[3]) } };
  }
  return undefined;
}

const DOCUMENT_PREFIXES = [layout.backupsPrefix(), layout.collectionsPrefix(), 'runs/', 'segments/'];

export interface SealOptions {
  /**
   * Also seal documents without a MAC when the marker already names the key. By default they are
   * refused: once sealed, a document without a MAC was written without the key, or stripped of
   * its MAC. Only for a repository whose marker was keyed before its documents were sealed (an
   * AWS bucket that had no marker, which the upgraded stack's first backup wrote).
   */
  reseal?: boolean;
}

export async function sealRepository(
  storage: RepositoryStorage,
  key: DocumentAuthenticator,
  options: SealOptions = {},
): Promise<SealReport> {
  await finishInterruptedSeal(storage, key);
  const marker = await markerToSeal(storage, key);
  bindRepositoryId(storage, marker.repositoryId);
  const report: SealReport = {
    repositoryId: marker.repositoryId,
    keyId: key.id,
    sealed: [],
    alreadySealed: 0,
    refused: [],
    markerSealed: false,
  };
  for (const prefix of DOCUMENT_PREFIXES) {
    for await (const object of storage.list(prefix)) {
      const found = documentAt(object.key);
      if (!found) continue;
      try {
        const bytes = await storage.get(object.key);
        const sealed = await sealOne(found.kind, found.place, object.key, bytes, key, marker.repositoryId);
        if (!sealed) report.alreadySealed++;
        else if (marker.keyId && !options.reseal) {
          report.refused.push({
            key: object.key,
            problem:
              `${object.key} carries no MAC, and the repository is already sealed: it was written without the key, or its MAC was stripped. ` +
              'Restore it from a copy of the repository; only if you know who wrote it, seal it with --reseal.',
          });
        } else {
          await replace(storage, object.key, sealed);
          report.sealed.push(object.key);
        }
      } catch (err) {
        if (err instanceof ObjectNotFoundError) continue; // removed meanwhile (gc of a run's files)
        if (!(err instanceof IntegrityError)) throw err;
        report.refused.push({ key: object.key, problem: err.message });
      }
    }
  }
  // Last: once the marker names the key, unsealed documents are refused by every reader.
  if (!marker.keyId) {
    const bytes = await encodeDocument(repositoryMarkerKind, {}, { ...marker, keyId: key.id }, key);
    await replace(storage, layout.marker(), bytes);
    report.markerSealed = true;
  }
  return report;
}

async function sealOne(
  kind: AnyKind,
  keyPlace: Place,
  key: string,
  bytes: Uint8Array,
  authenticator: DocumentAuthenticator,
  repositoryId: string,
): Promise<Uint8Array | undefined> {
  return sealExisting(kind, fullPlace(kind, keyPlace, key, bytes), bytes, authenticator, repositoryId);
}

/** The place of the document at `key`: a segment's LSN text is its body's, which must build `key`. */
function fullPlace(kind: AnyKind, keyPlace: Place, key: string, bytes: Uint8Array): Place {
  if (kind !== segmentKind) return keyPlace;
  const body = openSealed(kind.format, bytes, `${kind.title} ${key}`).body;
  const afterLsn = body && typeof body === 'object' && 'afterLsn' in body ? body.afterLsn : undefined;
  const place = { ...keyPlace, afterLsn: typeof afterLsn === 'string' ? afterLsn : '' };
  if (!/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(place.afterLsn) || kind.keyOf(place) !== key)
    throw new IntegrityError(
      `${kind.title} ${key} says it starts after LSN ${place.afterLsn}: it was moved or forged.`,
    );
  return place;
}

/** The marker, when it names no key or this one; refused when it names another. */
async function markerToSeal(storage: RepositoryStorage, key: DocumentAuthenticator) {
  const bytes = await storage.get(layout.marker()).catch(async (err: unknown) => {
    if (!(err instanceof ObjectNotFoundError)) throw err;
    return undefined;
  });
  if (!bytes) {
    // An AWS bucket written before markers existed: write one naming the key, if it holds backups.
    if (!(await hasDocuments(storage)))
      throw new RepositoryError(`${storage.location} is not a Tidemark repository: it has no marker and no backups.`);
    await ensureRepositoryMarker(storage);
    return peekDocument(repositoryMarkerKind, {}, await storage.get(layout.marker()));
  }
  const marker = await peekDocument(repositoryMarkerKind, {}, bytes);
  if (marker.keyId && marker.keyId !== key.id)
    throw new RepositoryError(
      `${storage.location} is already sealed with another repository key (key id ${marker.keyId}; the key given is ${key.id}). ` +
        'Run the seal with the key the repository names.',
    );
  return marker.keyId ? decodeDocument(repositoryMarkerKind, {}, bytes, key) : marker;
}

async function hasDocuments(storage: RepositoryStorage): Promise<boolean> {
  for (const prefix of [layout.backupsPrefix(), layout.collectionsPrefix()])
    for await (const _ of storage.list(prefix)) return true;
  return false;
}

/** Replaces `key` with `bytes` through a sealed copy, so that a kill at any moment loses nothing. */
async function replace(storage: RepositoryStorage, key: string, bytes: Uint8Array): Promise<void> {
  const copy = layout.sealing(key);
  await storage.delete(copy);
  await storage.putIfAbsent(copy, bytes);
  await storage.delete(key);
  await storage.putIfAbsent(key, bytes);
  await storage.delete(copy);
}

/** A seal killed between removing a document and writing it again: put its sealed copy back. */
async function finishInterruptedSeal(storage: RepositoryStorage, key: DocumentAuthenticator): Promise<void> {
  for await (const object of storage.list(layout.sealingPrefix())) {
    const original = object.key.slice(layout.sealingPrefix().length);
    if (!(await storage.head(original))) {
      const bytes = await storage.get(object.key);
      // Only a copy this key sealed, for that very place, goes back (anyone can write `sealing/`).
      const found = original === layout.marker() ? { kind: repositoryMarkerKind, place: {} } : documentAt(original);
      if (!found) continue;
      const place = fullPlace(found.kind as AnyKind, found.place, original, bytes);
      await decodeDocument(found.kind as AnyKind, place, bytes, key).catch(() => {
        throw new IntegrityError(
          `${object.key}, the sealed copy of ${original}, does not authenticate with key ${key.id}: it was not written by a seal with this key. Remove it; restore ${original} from a copy of the repository.`,
        );
      });
      await storage.putIfAbsent(original, bytes);
    }
    await storage.delete(object.key);
  }
}
