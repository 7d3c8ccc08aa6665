// What Tidemark creates in a PITR source, by collection (FORMAT.md, "Point-in-time recovery"):
// everything is named tidemark_*, so status lists it and disable removes it.
import { UsageError } from '../errors.ts';

export interface PitrNames {
  slot: string;
  /** The event trigger and its function (in `public`) share this name. */
  ddlCapture: string;
}

export function pitrNames(collection: string): PitrNames {
  // Slot names allow lower-case letters, digits and _ only, at most 63 of them.
  const base = collection.replaceAll('-', '_');
  const names = { slot: `tidemark_${base}`, ddlCapture: `tidemark_ddl_${base}` };
  if (names.ddlCapture.length > 63 || !/^[a-z0-9_]+$/.test(base)) {
    throw new UsageError(
      `Collection "${collection}" cannot have point-in-time recovery: its slot and trigger names (${names.ddlCapture}) must be at most 63 lower-case letters, digits and _. Use a collection name of at most 50 characters.`,
    );
  }
  return names;
}

/** The prefix of the transactional messages the DDL capture writes. */
export const DDL_MESSAGE_PREFIX = 'tidemark_ddl';

/** A non-transactional message the DDL capture writes after each DDL message, only to separate it from the next change (enable.ts). */
export const DDL_END_PREFIX = 'tidemark_ddl_end';
