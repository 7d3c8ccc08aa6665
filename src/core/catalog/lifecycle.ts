// The lifecycle of backups and restores: the only moves between states, each a single-item
// conditional write on the current state (FORMAT.md, "Catalog"). A move that finds the item
// already in the target state is a retry of it: it succeeds and returns what the first writer
// stored. Any other state is a conflict.
import { CatalogConflictError } from '../errors.ts';
import type { ItemKind } from './items.ts';

export interface Move {
  readonly from: string;
  readonly to: readonly string[];
}

/** A run ends once: `running` → `committed` or `failed` (backups and restores). */
export const FINISH: Move = { from: 'running', to: ['committed', 'failed'] };

/** Retention removes a committed backup: `committed` → `expired`. */
export const EXPIRE: Move = { from: 'committed', to: ['expired'] };

/** Refuses a target state the move cannot reach (callers outside TypeScript's checks). */
export function checkTarget(move: Move, kind: ItemKind, id: string, to: string): void {
  if (!move.to.includes(to)) {
    throw new CatalogConflictError(
      `Cannot mark ${kind} ${id} ${to}: a ${move.from} ${kind} can only become ${move.to.join(' or ')}.`,
    );
  }
}

/** The error for an item found in a state the move does not start from. */
export function wrongState(move: Move, kind: ItemKind, id: string, to: string, current: string): CatalogConflictError {
  return new CatalogConflictError(
    `Cannot mark ${kind} ${id} ${to}: it is ${current}, and only a ${move.from} ${kind} can become ${to}.`,
  );
}

/** The error for a create that finds the id taken by a different record. */
export function idTaken(kind: ItemKind, id: string): CatalogConflictError {
  return new CatalogConflictError(
    `Cannot create ${kind} ${id}: it already exists with different content. Use a new id.`,
  );
}
