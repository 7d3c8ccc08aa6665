// The catalog facts a restore must reproduce beyond what pg_dump prints in a way rows would show
// (DESIGN invariant 11): every index valid and ready, every constraint validated (and declared
// locally or inherited) as at the source, every trigger's enable state — partition clones
// included —, every relation's access method and persistence, every owner and privilege the backup
// restores, every event trigger (privilege-state.ts). Recorded at backup time in the
// manifest (`schema.catalogState`) and read the same way from the restored database
// (restore/verify-catalog.ts compares the two).
import { notExtensionMember, USER_SCHEMA } from './context.ts';
import type { CatalogQuery } from './model.ts';
import {
  readEventTriggerState,
  readPrivilegeState,
  type EventTriggerState,
  type PrivilegeState,
} from './privilege-state.ts';

export interface CatalogState {
  /** Tables, partitioned tables, materialized views and sequences. */
  relations: { name: string; persistence: string; accessMethod: string | null }[];
  indexes: { name: string; valid: boolean; ready: boolean }[];
  /**
   * Keys, foreign keys, checks and exclusion constraints (not PostgreSQL 18's NOT NULL ones).
   * A partition's clone of a parent's constraint has a `key` that identifies it across databases
   * instead of its name (constraintKey).
   */
  constraints: { table: string; name: string; key?: string; validated: boolean; local: boolean }[];
  /** User triggers, clones on partitions included; `enabled` is pg_trigger.tgenabled (O, D, R, A). */
  triggers: { table: string; name: string; enabled: string }[];
  /** Owners and ACLs (privilege-state.ts). Absent from manifests written before they were recorded. */
  privileges?: PrivilegeState;
  /**
   * The source's event triggers. A restore creates them in Complete, after verification
   * (restore/event-triggers.ts): read from the source only, and compared there.
   */
  eventTriggers?: EventTriggerState[];
}

const QUALIFIED = `pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)`;
const USER_RELATION = `${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`;

/**
 * Reads the catalog state of a database. `source`: leave out what a backup does not carry —
 * an invalid index left by a failed CREATE INDEX CONCURRENTLY (indexes.ts skips it, as pg_dump
 * does). On a restored database every index is read, so an invalid one is seen, and its event
 * triggers are not (they come later). `progressSchema`: the restore's own, left out.
 */
export async function readCatalogState(
  query: CatalogQuery,
  options: { source: boolean; progressSchema?: string },
): Promise<CatalogState> {
  const relations = await query<{ name: string; persistence: string; access_method: string | null }>(`
    SELECT ${QUALIFIED} AS name, c.relpersistence AS persistence, am.amname AS access_method
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
    WHERE c.relkind IN ('r', 'p', 'm', 'S') AND ${USER_RELATION}
    ORDER BY 1`);
  const indexes = await query<{ name: string; valid: boolean; ready: boolean }>(`
    SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ic.relname) AS name,
      i.indisvalid AS valid, i.indisready AS ready
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'm') AND ${USER_RELATION}
      ${
        options.source
          ? `AND (i.indisvalid OR ic.relkind = 'I' OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co
        WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')))`
          : ''
      }
    ORDER BY 1`);
  // A constraint cloned from a partitioned table's (conparentid) is named by PostgreSQL when the
  // restore recreates the parent's: the same name, or a generated one where that is taken (a
  // partition's own equal foreign key, merged into the parent's at the source, keeps its own name
  // there but not in pg_dump's output or ours). So a clone is known by its root constraint and
  // the table it references, not by its name.
  const constraints = await query<{
    table: string;
    name: string;
    key: string | null;
    validated: boolean;
    local: boolean;
  }>(`
    WITH RECURSIVE tree(oid, root) AS (
      SELECT oid, oid FROM pg_catalog.pg_constraint WHERE conparentid = 0 AND conrelid <> 0
      UNION ALL
      SELECT co.oid, tree.root FROM pg_catalog.pg_constraint co JOIN tree ON co.conparentid = tree.oid
    )
    SELECT ${QUALIFIED} AS table, pg_catalog.quote_ident(co.conname) AS name,
      CASE WHEN co.conparentid <> 0 THEN ${QUALIFIED} || ' references ' || COALESCE((SELECT pg_catalog.quote_ident(fn.nspname) || '.' || pg_catalog.quote_ident(f.relname)
            FROM pg_catalog.pg_class f JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace WHERE f.oid = co.confrelid), '-')
          || ' as part of ' || (SELECT pg_catalog.quote_ident(rn.nspname) || '.' || pg_catalog.quote_ident(rc.relname) || ' ' || pg_catalog.quote_ident(r.conname)
            FROM pg_catalog.pg_constraint r JOIN pg_catalog.pg_class rc ON rc.oid = r.conrelid
            JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace WHERE r.oid = tree.root)
      END AS key,
      co.convalidated AS validated, co.conislocal AS local
    FROM pg_catalog.pg_constraint co
    JOIN tree ON tree.oid = co.oid
    JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE co.contype IN ('c', 'p', 'u', 'x', 'f') AND c.relkind IN ('r', 'p', 'm') AND ${USER_RELATION}
    ORDER BY 1, 2`);
  const triggers = await query<{ table: string; name: string; enabled: string }>(`
    SELECT ${QUALIFIED} AS table, pg_catalog.quote_ident(t.tgname) AS name, t.tgenabled::text AS enabled
    FROM pg_catalog.pg_trigger t
    JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p', 'v', 'm') AND ${USER_RELATION}
    ORDER BY 1, 2`);
  return {
    relations: relations.map((r) => ({ name: r.name, persistence: r.persistence, accessMethod: r.access_method })),
    indexes,
    constraints: constraints.map(({ key, ...rest }) => (key === null ? rest : { ...rest, key })),
    triggers,
    privileges: await readPrivilegeState(query, options.progressSchema ?? ''),
    ...(options.source ? { eventTriggers: await readEventTriggerState(query) } : {}),
  };
}

/** How a constraint is matched between source and restore: by table and name unless it is a clone. */
export const constraintKey = (c: CatalogState['constraints'][number]): string => c.key ?? `${c.table} ${c.name}`;
