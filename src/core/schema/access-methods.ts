// User-defined access methods (CREATE ACCESS METHOD … TYPE TABLE | INDEX HANDLER f), before the
// tables and indexes that use them (relations.ts reads each table's; tables.ts writes USING).
// The handler is a function: a built-in one (heap_tableam_handler) or a captured user function.
import { Capture, key, notExtensionMember } from './context.ts';

interface AccessMethodRow {
  oid: number;
  ident: string;
  type: 't' | 'i';
  handler: string;
}

export async function captureAccessMethods(capture: Capture): Promise<void> {
  // regproc prints the handler schema-qualified: captureSchema emptied search_path.
  const rows = await capture.query<AccessMethodRow>(`
    SELECT a.oid, pg_catalog.quote_ident(a.amname) AS ident, a.amtype AS type, a.amhandler::pg_catalog.regproc::pg_catalog.text AS handler
    FROM pg_catalog.pg_am a
    WHERE a.oid >= 16384 AND ${notExtensionMember('pg_am', 'a.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const nodeKey = key('pg_am', row.oid);
    const object = `access method ${row.ident}`;
    capture.add({
      key: nodeKey,
      kind: 'access method',
      identity: row.ident,
      statements: [
        {
          object,
          kind: 'access method',
          sql: `CREATE ACCESS METHOD ${row.ident} TYPE ${row.type === 't' ? 'TABLE' : 'INDEX'} HANDLER ${row.handler}`,
        },
      ],
    });
    capture.comments.set(nodeKey, { target: `ACCESS METHOD ${row.ident}`, object, node: nodeKey });
  }
}
