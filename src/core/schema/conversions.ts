// Encoding conversions (CREATE [DEFAULT] CONVERSION … FOR 'src' TO 'dst' FROM f), after their
// function: PostgreSQL's own or a user C function from a library the target must have.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';

interface ConversionRow {
  oid: number;
  ident: string;
  source: string;
  target: string;
  func: string;
  is_default: boolean;
  owner: string;
}

export async function captureConversions(capture: Capture): Promise<void> {
  // regproc qualifies the function: captureSchema emptied search_path.
  const rows = await capture.query<ConversionRow>(`
    SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.conname) AS ident,
      pg_catalog.quote_literal(pg_catalog.pg_encoding_to_char(c.conforencoding)) AS source,
      pg_catalog.quote_literal(pg_catalog.pg_encoding_to_char(c.contoencoding)) AS target,
      c.conproc::pg_catalog.regproc::pg_catalog.text AS func, c.condefault AS is_default,
      pg_catalog.pg_get_userbyid(c.conowner) AS owner
    FROM pg_catalog.pg_conversion c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
    WHERE c.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_conversion', 'c.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const object = `conversion ${row.ident}`;
    const nodeKey = key('pg_conversion', row.oid);
    const create = `CREATE ${row.is_default ? 'DEFAULT ' : ''}CONVERSION ${row.ident} FOR ${row.source} TO ${row.target} FROM ${row.func}`;
    capture.add({
      key: nodeKey,
      kind: 'conversion',
      identity: row.ident,
      statements: [
        { object, kind: 'conversion', sql: create },
        ownerStatement(`CONVERSION ${row.ident}`, object, row.owner),
      ],
    });
    capture.comments.set(nodeKey, { target: `CONVERSION ${row.ident}`, object, node: nodeKey });
  }
}
