// What the catalog holds, by kind, and the one rule for item ids. Ids become directory names
// (file catalog) and key parts (DynamoDB), so the rule is the same on every backend: an id valid
// on one is valid on all, and `catalog rebuild` can move a catalog between them.
import { InvalidKeyError } from '../errors.ts';
import type { BackupRecord, CollectionRecord, Lease, RestoreRecord } from '../ports/catalog.ts';
import type { SegmentRecord } from '../ports/segment-catalog.ts';

/** The record each kind of item holds. */
export interface CatalogItems {
  backup: BackupRecord;
  restore: RestoreRecord;
  collection: CollectionRecord;
  lease: Lease;
  segment: SegmentRecord;
}

export type ItemKind = keyof CatalogItems;
export type ItemOf<K extends ItemKind> = CatalogItems[K];

/** An id that passed `itemId`: a backend may use it as a path segment or key part as it is. */
export type ItemId = string & { readonly __checkedItemId: unique symbol };

const ID = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,199}$/;

/** True for a safe id; the file catalog uses it to skip what is not an item in a listing. */
export function isItemId(text: string): text is ItemId {
  return ID.test(text);
}

/** The id, checked; `InvalidKeyError` naming the kind and the rule otherwise. */
export function itemId(kind: ItemKind, id: string): ItemId {
  if (!isItemId(id)) {
    throw new InvalidKeyError(
      `Invalid ${kind} id ${JSON.stringify(id)}: use letters, digits and . _ : - (not first), at most 200 characters.`,
    );
  }
  return id;
}
