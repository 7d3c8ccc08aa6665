// Procedural languages made outside an extension (CREATE [TRUSTED] LANGUAGE with its handler,
// inline handler and validator, owner and grants) and transforms (CREATE TRANSFORM). A language
// follows its handler functions and precedes the functions written in it (pg_depend says both);
// its handlers are often C functions of a library the target must have: restoring one without
// it fails on that function, named.
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember } from './context.ts';

interface LanguageRow {
  oid: number;
  ident: string;
  trusted: boolean;
  handler: string;
  inline: string | null;
  validator: string | null;
  owner: string;
  acl: AclJson | null;
}

interface TransformRow {
  oid: number;
  type: string;
  language: string;
  from_sql: string | null;
  to_sql: string | null;
}

const proc = (column: string) => `CASE WHEN ${column} <> 0 THEN ${column}::pg_catalog.regproc::pg_catalog.text END`;
const procedure = (column: string) =>
  `CASE WHEN ${column} <> 0 THEN ${column}::pg_catalog.regprocedure::pg_catalog.text END`;

export async function captureLanguages(capture: Capture): Promise<void> {
  // regproc and regprocedure qualify names: captureSchema emptied search_path.
  const languages = await capture.query<LanguageRow>(`
    SELECT l.oid, pg_catalog.quote_ident(l.lanname) AS ident, l.lanpltrusted AS trusted,
      l.lanplcallfoid::pg_catalog.regproc::pg_catalog.text AS handler, ${proc('l.laninline')} AS inline,
      ${proc('l.lanvalidator')} AS validator, pg_catalog.pg_get_userbyid(l.lanowner) AS owner,
      ${aclSql('l.lanacl', 'l', 'l.lanowner')} AS acl
    FROM pg_catalog.pg_language l
    WHERE l.oid >= 16384 AND l.lanplcallfoid <> 0 AND ${notExtensionMember('pg_language', 'l.oid')}
    ORDER BY 2`);
  for (const row of languages) {
    const object = `language ${row.ident}`;
    const nodeKey = key('pg_language', row.oid);
    const create =
      `CREATE ${row.trusted ? 'TRUSTED ' : ''}LANGUAGE ${row.ident} HANDLER ${row.handler}` +
      `${row.inline ? ` INLINE ${row.inline}` : ''}${row.validator ? ` VALIDATOR ${row.validator}` : ''}`;
    capture.add({
      key: nodeKey,
      kind: 'procedural language',
      identity: row.ident,
      statements: [
        { object, kind: 'language', sql: create },
        ownerStatement(`LANGUAGE ${row.ident}`, object, row.owner),
        ...privilegeStatements(`LANGUAGE ${row.ident}`, object, row.owner, row.acl),
      ],
    });
    capture.comments.set(nodeKey, { target: `LANGUAGE ${row.ident}`, object, node: nodeKey });
  }

  const transforms = await capture.query<TransformRow>(`
    SELECT t.oid, pg_catalog.format_type(t.trftype, NULL) AS type,
      (SELECT pg_catalog.quote_ident(l.lanname) FROM pg_catalog.pg_language l WHERE l.oid = t.trflang) AS language,
      ${procedure('t.trffromsql')} AS from_sql, ${procedure('t.trftosql')} AS to_sql
    FROM pg_catalog.pg_transform t
    WHERE t.oid >= 16384 AND ${notExtensionMember('pg_transform', 't.oid')}
    ORDER BY 2, 3`);
  for (const row of transforms) {
    const name = `FOR ${row.type} LANGUAGE ${row.language}`;
    const object = `transform ${name}`;
    const nodeKey = key('pg_transform', row.oid);
    const ways = [
      ...(row.from_sql ? [`FROM SQL WITH FUNCTION ${row.from_sql}`] : []),
      ...(row.to_sql ? [`TO SQL WITH FUNCTION ${row.to_sql}`] : []),
    ];
    capture.add({
      key: nodeKey,
      kind: 'transform',
      identity: name,
      statements: [{ object, kind: 'transform', sql: `CREATE TRANSFORM ${name} (${ways.join(', ')})` }],
    });
    capture.comments.set(nodeKey, { target: `TRANSFORM ${name}`, object, node: nodeKey });
  }
}
