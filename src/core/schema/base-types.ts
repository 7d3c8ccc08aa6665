// Base types and shell types, as pg_dump writes them: a base type's shell first (CREATE TYPE t),
// then its I/O functions (captured with the other functions), then the type in full. Its array
// type comes with it. A shell never defined stays a shell. Runs after captureFunctions: the I/O
// functions are made to follow the shell, and the full type to follow them.
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import type { DdlStatement } from './model.ts';
import { quoteLiteral } from '../sql.ts';

interface BaseTypeRow {
  oid: number;
  ident: string;
  defined: boolean;
  owner: string;
  acl: AclJson | null;
  array: number;
  /** Oids of the I/O, typmod, analyze and subscript functions. */
  functions: number[];
  /** CREATE TYPE options rendered by the query; the rest are rendered here. */
  options: string[] | null;
  typdefault: string | null;
  typalign: string;
  typstorage: string;
  typbyval: boolean;
}

const ALIGN: Record<string, string> = { c: 'char', s: 'int2', i: 'int4', d: 'double' };
const STORAGE: Record<string, string> = { p: 'plain', e: 'external', x: 'extended', m: 'main' };

export async function captureBaseTypes(capture: Capture): Promise<void> {
  const subscript = capture.version >= 140000;
  const fn = (column: string, label: string) =>
    `CASE WHEN t.${column} <> 0 THEN '${label} = ' || t.${column}::pg_catalog.regproc::pg_catalog.text END`;
  const rows = await capture.query<BaseTypeRow>(`
    SELECT t.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS ident,
      t.typisdefined AS defined, pg_catalog.pg_get_userbyid(t.typowner) AS owner,
      ${aclSql('t.typacl', 'T', 't.typowner')} AS acl, t.typarray AS array,
      pg_catalog.array_remove(ARRAY[t.typinput, t.typoutput, t.typreceive, t.typsend, t.typmodin, t.typmodout,
        t.typanalyze${subscript ? ', t.typsubscript' : ''}]::pg_catalog.oid[], 0::pg_catalog.oid) AS functions,
      pg_catalog.array_remove(ARRAY[
        'INTERNALLENGTH = ' || CASE WHEN t.typlen = -1 THEN 'variable' ELSE t.typlen::pg_catalog.text END,
        ${fn('typinput', 'INPUT')}, ${fn('typoutput', 'OUTPUT')}, ${fn('typreceive', 'RECEIVE')}, ${fn('typsend', 'SEND')},
        ${fn('typmodin', 'TYPMOD_IN')}, ${fn('typmodout', 'TYPMOD_OUT')}, ${fn('typanalyze', 'ANALYZE')}
        ${subscript ? `, ${fn('typsubscript', 'SUBSCRIPT')}` : ''},
        CASE WHEN t.typcollation <> 0 THEN 'COLLATABLE = true' END,
        CASE WHEN t.typelem <> 0 THEN 'ELEMENT = ' || pg_catalog.format_type(t.typelem, NULL) END,
        CASE WHEN t.typcategory <> 'U' THEN 'CATEGORY = ' || pg_catalog.quote_literal(t.typcategory::pg_catalog.text) END,
        CASE WHEN t.typispreferred THEN 'PREFERRED = true' END,
        CASE WHEN t.typdelim <> ',' THEN 'DELIMITER = ' || pg_catalog.quote_literal(t.typdelim::pg_catalog.text) END
      ], NULL) AS options,
      t.typdefault, t.typalign, t.typstorage, t.typbyval
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE t.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_type', 't.oid')}
      AND (t.typtype = 'b' OR (t.typtype = 'p' AND NOT t.typisdefined))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
        AND i.objid = t.oid AND i.deptype = 'i')
    ORDER BY 2`);
  for (const row of rows) {
    const object = `type ${row.ident}`;
    const nodeKey = key('pg_type', row.oid);
    const tail: DdlStatement[] = [
      ownerStatement(`TYPE ${row.ident}`, object, row.owner),
      ...privilegeStatements(`TYPE ${row.ident}`, object, row.owner, row.acl),
    ];
    capture.comments.set(nodeKey, { target: `TYPE ${row.ident}`, object, node: nodeKey });
    const shell: DdlStatement = { object, kind: 'type', sql: `CREATE TYPE ${row.ident}` };
    if (!row.defined) {
      capture.add({ key: nodeKey, kind: 'shell type', identity: row.ident, statements: [shell, ...tail] });
      continue;
    }
    const shellKey = `shell type:${row.oid}`;
    capture.add({ key: shellKey, kind: 'shell type', identity: row.ident, statements: [shell] });
    // The I/O functions take or return the shell: they follow it, and the type (which pg_depend
    // says they need) follows them (ordering.ts drops a dependency its target's `after` reverses).
    const functions = row.functions.map((oid) => key('pg_proc', oid)).filter((k) => capture.objects.has(k));
    for (const f of functions) {
      const node = capture.objects.get(f)!;
      node.after = [...(node.after ?? []), shellKey];
    }
    const options = [
      ...(row.options ?? []),
      ...(row.typdefault === null ? [] : [`DEFAULT = ${quoteLiteral(row.typdefault)}`]),
      `ALIGNMENT = ${ALIGN[row.typalign]}`,
      `STORAGE = ${STORAGE[row.typstorage]}`,
      ...(row.typbyval ? ['PASSEDBYVALUE'] : []),
    ];
    capture.add({
      key: nodeKey,
      kind: 'base type',
      identity: row.ident,
      after: [shellKey, ...functions],
      statements: [{ object, kind: 'type', sql: `CREATE TYPE ${row.ident} (${options.join(', ')})` }, ...tail],
    });
    if (row.array !== 0) capture.alias(key('pg_type', row.array), nodeKey);
  }
}
