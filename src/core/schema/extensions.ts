// Extensions: CREATE EXTENSION as pg_dump writes it. Their member objects are created by the
// extension itself, so every member resolves to the extension node and is never captured.
import { Capture, key } from './context.ts';

interface ExtensionRow {
  oid: number;
  ident: string;
  schema: string;
}
interface MemberRow {
  catalog: string;
  objid: number;
  extension: number;
}

export async function captureExtensions(capture: Capture): Promise<void> {
  // Extensions created at initdb (plpgsql) exist in every database, as pg_dump assumes.
  const rows = await capture.query<ExtensionRow>(`
    SELECT e.oid, pg_catalog.quote_ident(e.extname) AS ident, pg_catalog.quote_ident(n.nspname) AS schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.oid >= 16384`);
  for (const row of rows) {
    const nodeKey = key('pg_extension', row.oid);
    const object = `extension ${row.ident}`;
    capture.add({
      key: nodeKey,
      kind: 'extension',
      identity: row.ident,
      statements: [
        { object, kind: 'extension', sql: `CREATE EXTENSION IF NOT EXISTS ${row.ident} WITH SCHEMA ${row.schema}` },
      ],
    });
    capture.comments.set(nodeKey, { target: `EXTENSION ${row.ident}`, object, node: nodeKey });
  }
  const members = await capture.query<MemberRow>(`
    SELECT d.classid::pg_catalog.regclass::pg_catalog.text AS catalog, d.objid, d.refobjid AS extension
    FROM pg_catalog.pg_depend d
    WHERE d.deptype = 'e' AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass`);
  for (const m of members) {
    const ext = key('pg_extension', m.extension);
    if (capture.objects.has(ext)) capture.alias(key(m.catalog, m.objid), ext);
  }
}
