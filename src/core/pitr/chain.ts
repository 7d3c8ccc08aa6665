// A collection's chains of change segments, found by listing the repository (catalog records of
// segments come next; FORMAT.md, "Point-in-time recovery"). Key order is commit order.
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
  const chains = new Map<string, SegmentPlace[]>();
  for await (const { key } of storage.list(layout.segmentsPrefix(collection))) {
    const m = /^segments\/[^/]+\/([0-9A-F]{16})\/([0-9A-F]{8})([0-9A-F]{8})-(\d{4})\.json$/.exec(key);
    if (!m) continue; // not a segment (a temporary file of a writer)
    const place = {
      collection,
      chain: m[1]!,
      afterLsn: `${m[2]!.replace(/^0+(?=.)/, '')}/${m[3]!.replace(/^0+(?=.)/, '')}`,
      part: Number(m[4]),
    };
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
