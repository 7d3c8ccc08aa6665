// User-defined types: enums, composite types, domains and ranges. Base and shell types follow
// their I/O functions (base-types.ts).
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import type { DdlStatement } from './model.ts';
import { quoteLiteral } from '../sql.ts';

interface TypeRow {
  oid: number;
  typtype: 'e' | 'c' | 'd' | 'r';
  ident: string;
  owner: string;
  acl: AclJson | null;
  typrelid: number;
  labels: string[] | null;
  /** [quoted name, type, quoted collation or null, attnum] */
  attributes: [string, string, string | null, number][] | null;
  base: string | null;
  notnull: boolean;
  default_expr: string | null;
  collation: string | null;
  /** [constraint oid, quoted name, definition, validated] */
  checks: [number, string, string, boolean][] | null;
  range_options: string[] | null;
  multirange: number | null;
}

const collationName = (oidExpr: string) =>
  `(SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname)
     FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
     WHERE co.oid = ${oidExpr})`;

export async function captureTypes(capture: Capture): Promise<void> {
  const multirange = capture.version >= 140000;
  const rows = await capture.query<TypeRow>(`
    SELECT t.oid, t.typtype, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS ident,
      pg_catalog.pg_get_userbyid(t.typowner) AS owner, ${aclSql('t.typacl', 'T', 't.typowner')} AS acl, t.typrelid,
      CASE WHEN t.typtype = 'e' THEN (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)
        FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
      CASE WHEN t.typtype = 'c' THEN (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
          pg_catalog.quote_ident(a.attname), pg_catalog.format_type(a.atttypid, a.atttypmod),
          CASE WHEN a.attcollation <> at.typcollation THEN ${collationName('a.attcollation')} END, a.attnum)
          ORDER BY a.attnum)
        FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
      CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END AS base,
      t.typnotnull AS notnull, pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS default_expr,
      CASE WHEN t.typtype = 'd' AND t.typcollation <> bt.typcollation THEN ${collationName('t.typcollation')} END AS collation,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(c.oid::pg_catalog.int8, pg_catalog.quote_ident(c.conname),
          pg_catalog.pg_get_constraintdef(c.oid), c.convalidated) ORDER BY c.conname)
        FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS checks,
      CASE WHEN t.typtype = 'r' THEN pg_catalog.array_remove(ARRAY[
        'subtype = ' || pg_catalog.format_type(r.rngsubtype, NULL),
        (SELECT 'subtype_opclass = ' || pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(oc.opcname)
          FROM pg_catalog.pg_opclass oc JOIN pg_catalog.pg_namespace opn ON opn.oid = oc.opcnamespace
          WHERE oc.oid = r.rngsubopc AND NOT oc.opcdefault),
        CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation
          THEN 'collation = ' || ${collationName('r.rngcollation')} END,
        CASE WHEN r.rngcanonical <> 0 THEN 'canonical = ' || r.rngcanonical::pg_catalog.regproc::pg_catalog.text END,
        CASE WHEN r.rngsubdiff <> 0 THEN 'subtype_diff = ' || r.rngsubdiff::pg_catalog.regproc::pg_catalog.text END
        ${multirange ? `, 'multirange_type_name = ' || r.rngmultitypid::pg_catalog.regtype::pg_catalog.text` : ''}
      ], NULL) END AS range_options,
      ${multirange ? 'r.rngmultitypid' : 'NULL'} AS multirange
    FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
    LEFT JOIN pg_catalog.pg_class rel ON rel.oid = t.typrelid
    LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
    LEFT JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
    WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')}
      AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND rel.relkind = 'c'))`);
  for (const row of rows) addType(capture, row);
}

function addType(capture: Capture, row: TypeRow): void {
  const isDomain = row.typtype === 'd';
  const keyword = isDomain ? 'DOMAIN' : 'TYPE';
  const object = `${isDomain ? 'domain' : 'type'} ${row.ident}`;
  const nodeKey = key('pg_type', row.oid);
  const statements: DdlStatement[] = [{ object, kind: 'type', sql: createSql(row) }];
  for (const [oid, name, def, validated] of row.checks ?? []) {
    capture.alias(key('pg_constraint', oid), nodeKey);
    capture.comments.set(key('pg_constraint', oid), {
      target: `CONSTRAINT ${name} ON DOMAIN ${row.ident}`,
      object: `constraint ${name} on domain ${row.ident}`,
      node: nodeKey,
    });
    // CREATE DOMAIN cannot take NOT VALID constraints.
    if (!validated) {
      statements.push({ object, kind: 'constraint', sql: `ALTER DOMAIN ${row.ident} ADD CONSTRAINT ${name} ${def}` });
    }
  }
  statements.push(ownerStatement(`${keyword} ${row.ident}`, object, row.owner));
  statements.push(...privilegeStatements(`${keyword} ${row.ident}`, object, row.owner, row.acl));
  capture.add({ key: nodeKey, kind: isDomain ? 'domain' : 'type', identity: row.ident, statements });
  capture.comments.set(nodeKey, { target: `${keyword} ${row.ident}`, object, node: nodeKey });
  if (row.typtype === 'c') {
    const columns = new Map((row.attributes ?? []).map(([name, , , attnum]) => [attnum, `${row.ident}.${name}`]));
    capture.alias(key('pg_class', row.typrelid), nodeKey);
    capture.comments.set(key('pg_class', row.typrelid), {
      target: `TYPE ${row.ident}`,
      object,
      node: nodeKey,
      columns,
    });
  }
  if (row.multirange) capture.alias(key('pg_type', row.multirange), nodeKey);
}

function createSql(row: TypeRow): string {
  switch (row.typtype) {
    case 'e':
      return `CREATE TYPE ${row.ident} AS ENUM (${(row.labels ?? []).map(quoteLiteral).join(', ')})`;
    case 'c': {
      const attrs = (row.attributes ?? []).map(
        ([name, type, coll]) => `${name} ${type}${coll ? ` COLLATE ${coll}` : ''}`,
      );
      return `CREATE TYPE ${row.ident} AS (${attrs.join(', ')})`;
    }
    case 'r':
      return `CREATE TYPE ${row.ident} AS RANGE (${(row.range_options ?? []).join(', ')})`;
    case 'd': {
      let sql = `CREATE DOMAIN ${row.ident} AS ${row.base}`;
      if (row.collation) sql += ` COLLATE ${row.collation}`;
      if (row.default_expr !== null) sql += ` DEFAULT ${row.default_expr}`;
      if (row.notnull) sql += ' NOT NULL';
      for (const [, name, def, validated] of row.checks ?? []) if (validated) sql += ` CONSTRAINT ${name} ${def}`;
      return sql;
    }
  }
}
