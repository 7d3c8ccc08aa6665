// Table constraints that go after the data: keys and exclusion constraints (they build indexes),
// foreign keys (they need the referenced keys) and NOT VALID checks (the data may violate them).
// Valid CHECK constraints are part of CREATE TABLE (tables.ts).
import { Capture, key, Wave } from './context.ts';
import type { ConstraintRow, RelationRow } from './relations.ts';

export function addConstraint(capture: Capture, rel: RelationRow, con: ConstraintRow, hasChildren: boolean): void {
  const object = `constraint ${con.name} on ${rel.ident}`;
  const conKey = key('pg_constraint', con.oid);
  // A NOT VALID not-null (PostgreSQL 18) goes after the data like a NOT VALID check.
  if (con.contype === 'c' || con.contype === 'n') {
    if (con.validated) return;
    // An inherited copy (conislocal false) comes from the parent's ADD, which recurses; adding it
    // on the child too would make it the child's own.
    if (!con.islocal) return;
    // Added to a parent without ONLY so the children get their inherited copies.
    const only = hasChildren ? '' : 'ONLY ';
    capture.addPost(Wave.indexes, {
      object,
      kind: 'constraint',
      sql: `ALTER TABLE ${only}${rel.ident} ADD CONSTRAINT ${con.name} ${con.def}`,
    });
    return;
  }
  if (con.contype === 'f') {
    // Foreign keys of partitions are clones of the parent's, created by it.
    if (con.parentid !== 0) return;
    const only = rel.relkind === 'p' ? '' : 'ONLY ';
    capture.addPost(Wave.dependents, {
      object,
      kind: 'foreign key',
      sql: `ALTER TABLE ${only}${rel.ident} ADD CONSTRAINT ${con.name} ${con.def}`,
    });
    capture.comments.set(conKey, { target: `CONSTRAINT ${con.name} ON ${rel.ident}`, object, wave: Wave.finishing });
    return;
  }
  // Keys and exclusion constraints: each level of a partition tree gets its own, joined by
  // ALTER INDEX ... ATTACH PARTITION (indexes.ts), as pg_dump does.
  const statement = {
    object,
    kind: 'constraint',
    sql: `ALTER TABLE ONLY ${rel.ident} ADD CONSTRAINT ${con.name} ${con.def}`,
  };
  capture.addPost(Wave.indexes, statement);
  capture.promotable.set(conKey, { tableKey: key('pg_class', rel.oid), statement });
  capture.comments.set(conKey, { target: `CONSTRAINT ${con.name} ON ${rel.ident}`, object, wave: Wave.dependents });
}
