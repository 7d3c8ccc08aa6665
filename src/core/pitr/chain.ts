// A collection's chains of change segments, found by listing the repository, the source of truth
// (the catalog's records are a hint where to start; FORMAT.md, "Point-in-time recovery"). Keys
// are fixed-width (chain and afterLsn as 16 hex digits, part as 4), so key order is commit order.
import type { RepositoryStorage } from '../ports/storage.ts';
import { layout, lsnKey } from '../repository/layout.ts';
import { IntegrityError } from '../errors.ts';
import { readSegment, describeSegment, type ChangeSegment } from './segment.ts';

export interface SegmentPlace {
  collection: string;
  chain: string;
  afterLsn: string;
  part: number;
}

/** The segments of each chain of `collection`, chains and segments in key order. */
export async function listChains(storage: RepositoryStorage, collection: string): Promise<Map<string, SegmentPlace[]>> {
  return byChain(await listPlaces(storage, layout.segmentsPrefix(collection), collection));
}

/** The segments of one chain of `collection`, in key order. */
export async function listChain(
  storage: RepositoryStorage,
  collection: string,
  chain: string,
): Promise<SegmentPlace[]> {
  return listPlaces(storage, `${layout.segmentsPrefix(collection)}${chain}/`, collection);
}

/**
 * The collection's last chain and its segments from `known` on: what an archiver needs, at one
 * listing however long the chain is. `known` is a segment believed to be in the repository (the
 * catalog's last record); the repository decides: when `known` is not there, everything is listed.
 * `whole` says whether `places` begins with the chain's first segment.
 */
export async function archiveEnd(
  storage: RepositoryStorage,
  collection: string,
  known?: SegmentPlace,
): Promise<{ chain: string; places: SegmentPlace[]; whole: boolean } | undefined> {
  const prefix = layout.segmentsPrefix(collection);
  if (known) {
    // The key without its extension sorts just before the key: the listing starts at `known`.
    const key = layout.segment(collection, known.chain, known.afterLsn, known.part);
    const startAfter = key.slice(0, key.lastIndexOf('.'));
    const places = await listPlaces(storage, prefix, collection, startAfter);
    if (places[0] && placeKey(places[0]) === key) {
      const [chain, tail] = [...byChain(places).entries()].at(-1)!;
      return { chain, places: tail, whole: chain !== known.chain };
    }
  }
  const last = [...(await listChains(storage, collection)).entries()].at(-1);
  return last && { chain: last[0], places: last[1], whole: true };
}

export function placeKey(place: SegmentPlace): string {
  return layout.segment(place.collection, place.chain, place.afterLsn, place.part);
}

async function listPlaces(
  storage: RepositoryStorage,
  prefix: string,
  collection?: string,
  startAfter?: string,
): Promise<SegmentPlace[]> {
  const places: SegmentPlace[] = [];
  for await (const { key } of storage.list(prefix, startAfter ? { startAfter } : {})) {
    const place = segmentPlaceOf(key);
    if (place && (collection === undefined || place.collection === collection)) places.push(place);
  }
  return places;
}

/** The segments of every collection, in key order (`catalog rebuild`). */
export function listSegmentPlaces(storage: RepositoryStorage): Promise<SegmentPlace[]> {
  return listPlaces(storage, 'segments/'); // layout.segmentsPrefix's root, which the key pattern below names too
}

/** The place a segment key names, or undefined for a key that is not a segment's (a writer's temporary file). */
function segmentPlaceOf(key: string): SegmentPlace | undefined {
  const m = /^segments\/([^/]+)\/([0-9A-F]{16})\/([0-9A-F]{8})([0-9A-F]{8})-(\d{4})\.json$/.exec(key);
  if (!m) return undefined;
  return {
    collection: m[1]!,
    chain: m[2]!,
    afterLsn: `${m[3]!.replace(/^0+(?=.)/, '')}/${m[4]!.replace(/^0+(?=.)/, '')}`,
    part: Number(m[5]),
  };
}

function byChain(places: SegmentPlace[]): Map<string, SegmentPlace[]> {
  const chains = new Map<string, SegmentPlace[]>();
  for (const place of places) {
    if (!chains.has(place.chain)) chains.set(place.chain, []);
    chains.get(place.chain)!.push(place);
  }
  return chains;
}

/**
 * Reads a chain's segments in order, checking that each one continues the one before: its
 * `afterLsn` is the previous segment's `endLsn`, and its part follows when they share it.
 */
export async function* readChain(storage: RepositoryStorage, places: SegmentPlace[]): AsyncIterable<ChangeSegment> {
  let previous: ChangeSegment | undefined;
  for (const place of places) {
    const segment = await readSegment(storage, place);
    if (previous) {
      const continues =
        segment.afterLsn === previous.endLsn &&
        segment.part === (previous.afterLsn === segment.afterLsn ? previous.part + 1 : 0);
      if (!continues) {
        throw new IntegrityError(
          `Change segment ${describeSegment(segment)} does not continue ${describeSegment(previous)} (which ends at ${previous.endLsn}): ` +
            'the chain is broken there (a segment is missing or two archivers wrote the same chain). Restore to a point before it.',
        );
      }
    } else if (segment.part !== 0 || segment.afterLsn !== chainLsn(segment.chain)) {
      throw new IntegrityError(
        `Chain ${segment.collection}/${segment.chain} does not begin with its opening segment (found ${describeSegment(segment)} first). The chain's start is missing from the repository.`,
      );
    }
    yield segment;
    previous = segment;
  }
}

/** The chain id (16 hex digits) of the LSN a chain starts at, and back. */
export function chainId(lsn: string): string {
  return lsnKey(lsn);
}

export function chainLsn(chain: string): string {
  return `${chain.slice(0, 8).replace(/^0+(?=.)/, '')}/${chain.slice(8).replace(/^0+(?=.)/, '')}`;
}
