// Ordinary and partitioned tables: CREATE TABLE with columns and CHECK constraints, then the
// per-column settings, owner and privileges. Separately-set defaults become their own nodes.
import { ownerStatement, privilegeStatements } from './acl.ts';
import { columnDefinition, columnSettings, inheritedColumnChanges } from './columns.ts';
import { Capture, key, Wave } from './context.ts';
import type { DdlStatement } from './model.ts';
import { addPartitionAttachment } from './partitions.ts';
import { fdwOptions, renderOptions } from './quote.ts';
import type { ColumnRow, ConstraintRow, RelationRow } from './relations.ts';

export function addTable(
  capture: Capture,
  rel: RelationRow,
  columns: ColumnRow[],
  checks: ConstraintRow[],
  columnsOf: (oid: number) => ColumnRow[],
  hasChildren: boolean,
): void {
  const nodeKey = key('pg_class', rel.oid);
  const object = `table ${rel.ident}`;
  const inherits = !rel.ispartition && rel.parents?.length ? rel.parents : [];
  // A child created with INHERITS gets the parents' columns and checks, a typed table its type's
  // columns; a partition is created standalone (see partitions.ts), so it lists everything.
  const listed = rel.oftype ? [] : inherits.length ? columns.filter((c) => c.islocal) : columns;
  // From PostgreSQL 17 a partition shares its parent's identity column; ATTACH brings it back.
  const sharedIdentity = rel.ispartition && capture.version >= 170000;
  // A child's own column that a parent's generated column merges into inherits its generation
  // expression: repeating it is refused ("child column specifies generation expression"), so it
  // is written without one, as pg_dump does.
  const parentGenerated = new Set(
    inherits.flatMap(([oid]) =>
      columnsOf(oid)
        .filter((p) => p.generated)
        .map((p) => p.name),
    ),
  );
  const elements = listed.map((c) => {
    let col = sharedIdentity ? { ...c, identity: '' as const } : c;
    if (col.generated && parentGenerated.has(col.name)) col = { ...col, generated: '', default_expr: null };
    return columnDefinition(col, capture.identityOptions.get(`${rel.oid}:${c.attnum}`));
  });
  for (const check of checks) {
    capture.alias(key('pg_constraint', check.oid), nodeKey);
    capture.comments.set(key('pg_constraint', check.oid), {
      target: `CONSTRAINT ${check.name} ON ${rel.ident}`,
      object: `constraint ${check.name} on ${rel.ident}`,
      ...(check.validated ? { node: nodeKey } : { wave: Wave.dependents }),
    });
    if (!check.validated) continue; // added NOT VALID after the data, see constraints.ts
    if (inherits.length && !check.islocal) continue;
    if (check.uses_function && !rel.ispartition) addSeparateCheck(capture, rel, check, nodeKey, hasChildren);
    else elements.push(`CONSTRAINT ${check.name} ${check.def}`);
  }

  const body = elements.length ? `(\n    ${elements.join(',\n    ')}\n)` : rel.oftype ? '' : '()';
  const foreign = rel.relkind === 'f';
  let sql =
    `CREATE ${rel.unlogged ? 'UNLOGGED ' : ''}${foreign ? 'FOREIGN ' : ''}TABLE ${rel.ident} ${rel.oftype ? `OF ${rel.oftype} ` : ''}${body}`.trimEnd();
  if (inherits.length) sql += ` INHERITS (${inherits.map(([, name]) => name).join(', ')})`;
  if (foreign) sql += ` SERVER ${rel.server}${fdwOptions(rel.ftoptions)}`;
  if (rel.partkey) sql += ` PARTITION BY ${rel.partkey}`;
  if (rel.access_method) sql += ` USING ${rel.access_method}`;
  const options = [
    ...(rel.reloptions?.length ? [renderOptions(rel.reloptions)] : []),
    ...(rel.toast_options?.length ? [renderOptions(rel.toast_options, 'toast.')] : []),
  ];
  if (options.length) sql += ` WITH (${options.join(', ')})`;

  const statements: DdlStatement[] = [{ object, kind: 'table', sql }];
  const parentColumns = inherits.length ? columnsOf(inherits[0][0]) : [];
  for (const col of columns) {
    statements.push(...columnSettings(rel.ident, object, col));
    if (rel.oftype) statements.push(...inheritedColumnChanges(rel.ident, object, col));
    else if (inherits.length && !col.islocal) {
      const parent = parentColumns.find((p) => p.name === col.name);
      statements.push(...inheritedColumnChanges(rel.ident, object, col, parent));
    }
    if (col.default_oid !== null) addDefault(capture, rel, col, nodeKey, object);
  }
  if (!foreign && (rel.replident === 'f' || rel.replident === 'n')) {
    const identity = rel.replident === 'f' ? 'FULL' : 'NOTHING';
    statements.push({
      object,
      kind: 'replica identity',
      sql: `ALTER TABLE ONLY ${rel.ident} REPLICA IDENTITY ${identity}`,
    });
  }
  statements.push(ownerStatement(`${foreign ? 'FOREIGN ' : ''}TABLE ${rel.ident}`, object, rel.owner));
  statements.push(...privilegeStatements(`TABLE ${rel.ident}`, object, rel.owner, rel.acl));
  for (const col of columns) {
    statements.push(...privilegeStatements(`TABLE ${rel.ident}`, object, rel.owner, col.acl, col.ident));
  }
  const after = inherits.map(([oid]) => key('pg_class', oid));
  if (rel.access_method_oid !== null) after.push(key('pg_am', rel.access_method_oid));
  capture.add({ key: nodeKey, kind: 'table', identity: rel.ident, statements, after });
  capture.alias(key('pg_type', rel.reltype), nodeKey);
  capture.comments.set(nodeKey, {
    target: `${foreign ? 'FOREIGN ' : ''}TABLE ${rel.ident}`,
    object,
    node: nodeKey,
    columns: new Map(columns.map((c) => [c.attnum, `${rel.ident}.${c.ident}`])),
  });
  if (rel.ispartition) addPartitionAttachment(capture, rel);
  addRowSecurity(capture, rel, object);
  if (rel.relkind === 'r') {
    capture.tables.push({
      key: nodeKey,
      schema: rel.schema,
      name: rel.name,
      columns: columns.filter((c) => !c.generated).map((c) => c.name),
    });
  }
}

/** A default that calls a user function may close a cycle (function → table → default). */
function addDefault(capture: Capture, rel: RelationRow, col: ColumnRow, tableKey: string, object: string): void {
  const defaultKey = key('pg_attrdef', col.default_oid);
  if (!col.default_separate || col.generated) {
    capture.alias(defaultKey, tableKey);
    return;
  }
  capture.add({
    key: defaultKey,
    kind: 'default',
    identity: `${rel.ident}.${col.ident}`,
    after: [tableKey],
    statements: [
      {
        object,
        kind: 'default',
        sql: `ALTER TABLE ONLY ${rel.ident} ALTER COLUMN ${col.ident} SET DEFAULT ${col.default_expr}`,
      },
    ],
  });
}

/** Like pg_dump, a check calling a user function is added after the table and that function. */
function addSeparateCheck(
  capture: Capture,
  rel: RelationRow,
  check: ConstraintRow,
  tableKey: string,
  hasChildren: boolean,
): void {
  const checkKey = key('pg_constraint', check.oid);
  // Without ONLY on a parent, so its children get their inherited copies.
  const only = hasChildren ? '' : 'ONLY ';
  const object = `constraint ${check.name} on ${rel.ident}`;
  capture.add({
    key: checkKey,
    kind: 'constraint',
    identity: `${rel.ident}.${check.name}`,
    after: [tableKey],
    statements: [
      { object, kind: 'constraint', sql: `ALTER TABLE ${only}${rel.ident} ADD CONSTRAINT ${check.name} ${check.def}` },
    ],
  });
  capture.comments.set(checkKey, { target: `CONSTRAINT ${check.name} ON ${rel.ident}`, object, node: checkKey });
}

/** Row security goes after the data so the load is never filtered by a policy. */
function addRowSecurity(capture: Capture, rel: RelationRow, object: string): void {
  if (rel.rowsecurity) {
    capture.addPost(Wave.dependents, {
      object,
      kind: 'row security',
      sql: `ALTER TABLE ${rel.ident} ENABLE ROW LEVEL SECURITY`,
    });
  }
  if (rel.forcerowsecurity) {
    capture.addPost(Wave.dependents, {
      object,
      kind: 'row security',
      sql: `ALTER TABLE ${rel.ident} FORCE ROW LEVEL SECURITY`,
    });
  }
}
