// How replay finds a row of a target table again, and how it writes its columns: read from the
// target's catalog once per table (and again after each replayed DDL command).
import type { SqlSession } from '../ports/database.ts';
import { VerificationError } from '../errors.ts';

export interface RowIdentity {
  /** The primary key or replica identity index columns (quoted), or null: REPLICA IDENTITY FULL or none. */
  key: string[] | null;
  columns: string[];
  /** Each column's type, schema-qualified (quoted), for the casts of batched statements. */
  types: Map<string, string>;
  /** Generated columns: computed by the target, never written. */
  generated: Set<string>;
  /** GENERATED ALWAYS AS IDENTITY columns: written on INSERT with OVERRIDING SYSTEM VALUE, never updated. */
  identityAlways: Set<string>;
  /**
   * A unique index or exclusion constraint besides the key: updates then replay one by one, in
   * order, since one statement of several updates may pass through a state the source never had.
   */
  otherUnique: boolean;
  /**
   * A materialized view: its query computes its rows, in the target as in the source. The archive
   * holds the rows CREATE MATERIALIZED VIEW and REFRESH … CONCURRENTLY wrote, before the DDL
   * message whose replay computes them again: replay leaves them out.
   */
  matview: boolean;
}

export class RowIdentities {
  private readonly byRel = new Map<string, RowIdentity>();

  constructor(private readonly session: SqlSession) {}

  /** After DDL: columns, keys and even what a name points at may have changed. */
  clear(): void {
    this.byRel.clear();
    this.missing.clear();
  }

  /** Tables the target does not hold, until the next DDL: a CREATE TABLE AS of many rows asks once. */
  private readonly missing = new Set<string>();

  async of(rel: string): Promise<RowIdentity> {
    const found = await this.find(rel);
    if (!found) throw new VerificationError(`Replay: table ${rel} does not exist in the target.`);
    return found;
  }

  /**
   * The identity of `rel`, or undefined when the target has no such table (yet: the rows of
   * CREATE TABLE AS and SELECT INTO come before the DDL message that creates it).
   */
  async find(rel: string): Promise<RowIdentity | undefined> {
    let found = this.byRel.get(rel);
    if (!found) {
      if (this.missing.has(rel)) return undefined;
      const rows = await this.session.query<{
        name: string;
        type: string;
        key: boolean;
        generated: boolean;
        always: boolean;
        other_unique: boolean;
        matview: boolean;
      }>(
        `SELECT pg_catalog.quote_ident(a.attname) AS name, a.attgenerated <> '' AS generated, a.attidentity = 'a' AS always,
                -- Casts carry no typmod, and bit without one is bit(1): varbit takes the value and compares with bit.
                CASE t.oid WHEN 'pg_catalog.bit'::pg_catalog.regtype THEN 'pg_catalog.varbit'
                           WHEN 'pg_catalog._bit'::pg_catalog.regtype THEN 'pg_catalog._varbit'
                           ELSE pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.typname) END AS type,
                COALESCE(a.attnum = ANY ((SELECT i.indkey FROM pg_catalog.pg_index i WHERE i.indrelid = a.attrelid
                   AND (i.indisreplident OR (i.indisprimary AND c.relreplident = 'd')) LIMIT 1)::int2[]), false) AS key,
                EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)
                   AND NOT i.indisreplident AND NOT (i.indisprimary AND c.relreplident = 'd')) AS other_unique,
                c.relkind = 'm' AS matview
           FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
           JOIN pg_catalog.pg_type t ON t.oid = a.atttypid JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
          WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [rel],
      );
      if (!rows.length) {
        const [exists] = await this.session.query<{ ok: boolean }>(
          'SELECT pg_catalog.to_regclass($1) IS NOT NULL AS ok',
          [rel],
        );
        if (!exists?.ok) {
          this.missing.add(rel);
          return undefined;
        }
      }
      const key = rows.filter((r) => r.key).map((r) => r.name);
      found = {
        key: key.length ? key : null,
        columns: rows.map((r) => r.name),
        types: new Map(rows.map((r) => [r.name, r.type])),
        generated: new Set(rows.filter((r) => r.generated).map((r) => r.name)),
        identityAlways: new Set(rows.filter((r) => r.always).map((r) => r.name)),
        otherUnique: rows.some((r) => r.other_unique),
        matview: rows.some((r) => r.matview),
      };
      this.byRel.set(rel, found);
    }
    return found;
  }
}
