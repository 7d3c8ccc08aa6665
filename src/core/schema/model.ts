// What schema capture produces and restore consumes. Everything here is plain JSON: it is
// stored in the manifest (FORMAT.md, "schema").
import type { CatalogState } from './catalog-state.ts';

/** One SQL statement that recreates (part of) one database object. */
export interface DdlStatement {
  /** Human identity of the object, e.g. `table public."Order Items"`; used in warnings/errors. */
  object: string;
  /** Object kind, e.g. `schema`, `extension`, `type`, `table`, `index`, `constraint`, `acl`. */
  kind: string;
  /** The statement, complete and self-contained (fully qualified names, no search_path reliance). */
  sql: string;
  /**
   * Roles that must exist on the target for this statement to apply (owners, grantees).
   * When one is missing, restore skips the statement and reports a warning naming it.
   */
  roles?: string[];
  /**
   * A statement that applies to a list of roles (a policy's TO list; null = PUBLIC): `sql` is
   * head + the list + tail. Restore keeps the roles the target has; when it has none, the object
   * is not created and later statements on the same `object` are skipped.
   */
  appliesTo?: { head: string; tail: string; roles: (string | null)[] };
  /**
   * Roles the restoring role must be able to act as for this statement: the owner an object is
   * given to, and a grant's owner and grantor. A superuser can act as any role; another role only
   * as those it is a member of. When it cannot, restore skips the statement as for a missing role.
   */
  actsAs?: string[];
  /**
   * What to run instead when a role of `roles` is missing, and why (added to the warning): the
   * owner statement of a SECURITY DEFINER function revokes EXECUTE from PUBLIC, since the
   * function would otherwise run as the restoring user.
   */
  insteadIfRolesMissing?: { sql: string; why: string };
}

/** A table whose rows are exported: an ordinary table or a leaf partition. */
export interface TableData {
  schema: string;
  name: string;
  /** Column names in attnum order, without dropped and generated columns: the COPY column list. */
  columns: string[];
  /**
   * Rows not read as the whole table (backup/row-sources.ts, FORMAT.md "Rows that are not a whole
   * table"): an extension's configuration table, only the rows its `filter` (a condition) selects,
   * loaded without emptying the table (CREATE EXTENSION put the extension's own rows there); or the
   * pieces of every large object, staged in the restore's progress schema (`schema`.`name`).
   */
  source?: { kind: 'extension configuration'; filter?: string } | { kind: 'large objects' };
}

/** A sequence's state at backup time, restored with setval() after the data. */
export interface SequenceState {
  schema: string;
  name: string;
  /** bigint as a decimal string. */
  lastValue: string;
  isCalled: boolean;
}

export interface RelationName {
  schema: string;
  name: string;
}

export interface SchemaSnapshot {
  /** server_version_num of the source. */
  serverVersionNum: number;
  /** Statements run before the data load, in dependency order. */
  preData: DdlStatement[];
  /**
   * Statements run after the data load, in waves: the statements of one wave are independent
   * of each other and may run concurrently; waves run in order.
   */
  postData: DdlStatement[][];
  /** Tables with rows to export. */
  tables: TableData[];
  sequences: SequenceState[];
  /** Materialized views populated in the source, in dependency order: refreshed after the load. */
  materializedViews: RelationName[];
  /** Object kinds found in the source that are not captured; each names the objects. */
  warnings: string[];
  /**
   * The source's catalog state that verification compares the restored database with
   * (catalog-state.ts). Absent from manifests written before it: those restores check rows only.
   */
  catalogState?: CatalogState;
}

/** Reads the system catalogs. The caller decides the transaction and snapshot. */
export type CatalogQuery = <Row = Record<string, any>>(sql: string, params?: unknown[]) => Promise<Row[]>;
