// The catalog reads for tables, views and materialized views: relations, their columns and
// their constraints, three queries for the whole database.
import { aclSql, type AclJson } from './acl.ts';
import { Capture, notExtensionMember, USER_SCHEMA } from './context.ts';

export interface RelationRow {
  oid: number;
  /** The relation's row type: functions and columns using it depend on the relation. */
  reltype: number;
  /** For a typed table (CREATE TABLE ... OF type): the type. */
  oftype: string | null;
  relkind: 'r' | 'p' | 'v' | 'm' | 'f';
  /** A foreign table's server (quoted) and options. */
  server: string | null;
  ftoptions: string[] | null;
  ident: string;
  schema: string;
  name: string;
  owner: string;
  acl: AclJson | null;
  unlogged: boolean;
  /** A table access method other than heap (quoted), and its oid when user-defined: `USING`. */
  access_method: string | null;
  access_method_oid: number | null;
  reloptions: string[] | null;
  toast_options: string[] | null;
  ispartition: boolean;
  bound: string | null;
  partkey: string | null;
  /** [parent oid, quoted parent] in inhseqno order */
  parents: [number, string][] | null;
  rowsecurity: boolean;
  forcerowsecurity: boolean;
  replident: string;
  populated: boolean;
  viewdef: string | null;
  return_rule: number | null;
}

export interface ColumnRow {
  attrelid: number;
  attnum: number;
  name: string;
  ident: string;
  type: string;
  notnull: boolean;
  notnull_name: string | null;
  default_expr: string | null;
  default_oid: number | null;
  /** The default calls a user function: set it in its own statement, after that function. */
  default_separate: boolean;
  identity: '' | 'a' | 'd';
  generated: '' | 's' | 'v';
  islocal: boolean;
  collation: string | null;
  storage: string | null;
  stattarget: number | null;
  compression: string | null;
  options: string[] | null;
  /** A foreign table column's options. */
  fdw_options: string[] | null;
  acl: AclJson | null;
}

export interface ConstraintRow {
  oid: number;
  conrelid: number;
  /** `n`: a NOT VALID not-null (PostgreSQL 18); valid ones are the columns' NOT NULL. */
  contype: 'c' | 'p' | 'u' | 'x' | 'f' | 'n';
  name: string;
  def: string;
  validated: boolean;
  islocal: boolean;
  parentid: number;
  /** Calls a user function: added after it, as its own statement (the function may read the table). */
  uses_function: boolean;
}

const RELATION_FILTER = `${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;

export async function readRelations(capture: Capture): Promise<RelationRow[]> {
  return capture.query<RelationRow>(`
    SELECT c.oid, c.reltype, CASE WHEN c.reloftype <> 0 THEN pg_catalog.format_type(c.reloftype, NULL) END AS oftype, c.relkind, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS ident,
      n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
      ${aclSql('c.relacl', 'r', 'c.relowner')} AS acl, c.relpersistence = 'u' AS unlogged, c.reloptions,
      (SELECT pg_catalog.quote_ident(am.amname) FROM pg_catalog.pg_am am WHERE am.oid = c.relam AND am.amname <> 'heap') AS access_method,
      CASE WHEN c.relam >= 16384 THEN c.relam END AS access_method_oid,
      (SELECT t.reloptions FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid) AS toast_options,
      c.relispartition AS ispartition,
      (SELECT pg_catalog.quote_ident(s.srvname) FROM pg_catalog.pg_foreign_table ft JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver
        WHERE ft.ftrelid = c.oid) AS server,
      (SELECT ft.ftoptions FROM pg_catalog.pg_foreign_table ft WHERE ft.ftrelid = c.oid) AS ftoptions,
      CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS bound,
      CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partkey,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(p.oid::pg_catalog.int8,
          pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.relname)) ORDER BY i.inhseqno)
        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) AS parents,
      c.relrowsecurity AS rowsecurity, c.relforcerowsecurity AS forcerowsecurity, c.relreplident AS replident,
      c.relispopulated AS populated,
      CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS viewdef,
      (SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS return_rule
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE ${RELATION_FILTER}`);
}

export async function readColumns(capture: Capture): Promise<ColumnRow[]> {
  const v = capture.version;
  return capture.query<ColumnRow>(`
    SELECT a.attrelid, a.attnum, a.attname AS name, pg_catalog.quote_ident(a.attname) AS ident,
      pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
      ${
        // PostgreSQL 18's NOT VALID not-null (the rows may hold NULLs): added after the data (constraints.ts).
        v >= 180000
          ? `a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint nv WHERE nv.conrelid = a.attrelid
        AND nv.contype = 'n' AND nv.conkey[1] = a.attnum AND NOT nv.convalidated)`
          : 'a.attnotnull'
      } AS notnull,
      ${
        v >= 180000
          ? `(SELECT pg_catalog.quote_ident(nn.conname) FROM pg_catalog.pg_constraint nn
        WHERE nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum
          AND nn.conname <> c.relname || '_' || a.attname || '_not_null')`
          : 'NULL'
      } AS notnull_name,
      pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr, d.oid AS default_oid,
      EXISTS (SELECT 1 FROM pg_catalog.pg_depend dd WHERE dd.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass
        AND dd.objid = d.oid AND dd.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND dd.refobjid >= 16384 AND dd.deptype = 'n') AS default_separate,
      a.attidentity AS identity, a.attgenerated AS generated, a.attislocal AS islocal,
      CASE WHEN a.attcollation <> t.typcollation THEN (SELECT pg_catalog.quote_ident(cn.nspname) || '.' ||
        pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
        JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation,
      CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage END AS storage,
      CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END AS stattarget,
      ${v >= 140000 ? `CASE WHEN a.attcompression <> '' THEN a.attcompression END` : 'NULL'} AS compression,
      a.attoptions AS options, a.attfdwoptions AS fdw_options, ${aclSql('a.attacl', null, 'c.relowner')} AS acl
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND ${RELATION_FILTER}
    ORDER BY a.attrelid, a.attnum`);
}

export async function readConstraints(capture: Capture): Promise<ConstraintRow[]> {
  return capture.query<ConstraintRow>(`
    SELECT co.oid, co.conrelid, co.contype, pg_catalog.quote_ident(co.conname) AS name,
      pg_catalog.pg_get_constraintdef(co.oid) AS def, co.convalidated AS validated, co.conislocal AS islocal,
      co.conparentid AS parentid,
      EXISTS (SELECT 1 FROM pg_catalog.pg_depend dd WHERE dd.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass
        AND dd.objid = co.oid AND dd.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND dd.refobjid >= 16384 AND dd.deptype = 'n') AS uses_function
    FROM pg_catalog.pg_constraint co
    JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE (co.contype IN ('c', 'p', 'u', 'x', 'f') OR (co.contype = 'n' AND NOT co.convalidated)) AND ${RELATION_FILTER}
    ORDER BY co.conrelid, co.conname`);
}
