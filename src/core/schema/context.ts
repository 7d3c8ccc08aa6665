// The state one capture accumulates: pre-data objects (nodes of the dependency graph), post-data
// statements by wave, comment targets, and the row/sequence lists the export needs.
import type { CatalogQuery, DdlStatement, RelationName, SequenceState, TableData } from './model.ts';

/** Post-data waves: each runs after the previous one, statements inside a wave are independent. */
export const Wave = {
  /** Indexes, PK/UNIQUE/EXCLUDE constraints, NOT VALID checks, extended statistics. */
  indexes: 0,
  /** Partitioned-index attachments, CLUSTER ON, replica identity, index column statistics. */
  attach: 1,
  /** Foreign keys (need attached unique indexes), triggers, rules, policies, RLS switches. */
  dependents: 2,
  /** Trigger/rule enable states and comments on post-data objects. */
  finishing: 3,
} as const;
export const WAVE_COUNT = 4;

/** A pre-data object: one node of the dependency graph. */
export interface SchemaObject {
  /** `catalog:oid` of the object, e.g. `pg_class:16390`. */
  key: string;
  kind: string;
  /** Quoted, qualified identity; the tiebreak after the kind priority. */
  identity: string;
  statements: DdlStatement[];
  /** Nodes this one must follow besides what pg_depend says. */
  after?: string[];
}

/** Where a COMMENT ON for a catalog object goes. */
export interface CommentTarget {
  /** Text after COMMENT ON for the object itself, e.g. `TABLE public.t`. */
  target: string;
  /** Human identity for DdlStatement.object. */
  object: string;
  /** Pre-data node the comment belongs to, or the post-data wave. */
  node?: string;
  wave?: number;
  /** For relations: column names by attnum, for COMMENT ON COLUMN. */
  columns?: Map<number, string>;
}

/** A post-data constraint that a pre-data object (a view grouping by a key) may need earlier. */
export interface PromotableConstraint {
  tableKey: string;
  statement: DdlStatement;
}

export class Capture {
  readonly objects = new Map<string, SchemaObject>();
  /** Catalog key of a sub-object (array type, default, _RETURN rule, member...) → node key. */
  readonly aliases = new Map<string, string>();
  readonly post: DdlStatement[][] = Array.from({ length: WAVE_COUNT }, () => []);
  readonly comments = new Map<string, CommentTarget>();
  readonly promotable = new Map<string, PromotableConstraint>();
  /** `tableOid:attnum` of identity columns → their sequence options, for the column definition. */
  readonly identityOptions = new Map<string, string>();
  readonly warnings: string[] = [];
  readonly tables: (TableData & { key: string })[] = [];
  readonly sequences: (SequenceState & { key: string })[] = [];
  readonly populatedMatviews: (RelationName & { key: string })[] = [];

  constructor(
    readonly query: CatalogQuery,
    readonly version: number,
  ) {}

  add(object: SchemaObject): SchemaObject {
    this.objects.set(object.key, object);
    this.aliases.set(object.key, object.key);
    return object;
  }

  alias(catalogKey: string, nodeKey: string): void {
    this.aliases.set(catalogKey, nodeKey);
  }

  /** Appends a statement to an existing node (owner, ACL, comment, column settings...). */
  append(nodeKey: string, ...statements: DdlStatement[]): void {
    const object = this.objects.get(nodeKey);
    if (!object) throw new Error(`internal: no captured object ${nodeKey}`);
    object.statements.push(...statements);
  }

  addPost(wave: number, ...statements: DdlStatement[]): void {
    this.post[wave].push(...statements);
  }
}

export const key = (catalog: string, oid: unknown): string => `${catalog}:${String(oid)}`;

/** SQL: the namespace alias `n` is a user schema. */
export const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'`;

/** SQL: the object `oidExpr` of catalog `catalog` is not a member of an extension. */
export function notExtensionMember(catalog: string, oidExpr: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend x WHERE x.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass
    AND x.objid = ${oidExpr} AND x.deptype = 'e')`;
}
