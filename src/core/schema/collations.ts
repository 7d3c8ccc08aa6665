// User-defined collations, before the types, tables and indexes that use them. PostgreSQL has no
// pg_get_collationdef; this writes what pg_dump writes. The catalog's columns changed over the
// supported versions (colliculocale in 15–16, colllocale from 17, collicurules from 16), so the
// row is read whole as JSON and each version's columns are used where present.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import { quoteLiteral } from '../sql.ts';

interface CollationRow {
  oid: number;
  ident: string;
  owner: string;
  c: {
    collprovider: string;
    collisdeterministic?: boolean;
    collcollate: string | null;
    collctype: string | null;
    colliculocale?: string | null;
    colllocale?: string | null;
    collicurules?: string | null;
  };
}

const PROVIDER: Record<string, string> = { c: 'libc', i: 'icu', b: 'builtin' };

export async function captureCollations(capture: Capture): Promise<void> {
  const rows = await capture.query<CollationRow>(`
    SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname) AS ident,
      pg_catalog.pg_get_userbyid(c.collowner) AS owner, pg_catalog.to_jsonb(c) AS c
    FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
    WHERE c.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_collation', 'c.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const nodeKey = key('pg_collation', row.oid);
    const object = `collation ${row.ident}`;
    capture.add({
      key: nodeKey,
      kind: 'collation',
      identity: row.ident,
      statements: [
        { object, kind: 'collation', sql: `CREATE COLLATION ${row.ident} (${collationOptions(row.c).join(', ')})` },
        ownerStatement(`COLLATION ${row.ident}`, object, row.owner),
      ],
    });
    capture.comments.set(nodeKey, { target: `COLLATION ${row.ident}`, object, node: nodeKey });
  }
}

function collationOptions(c: CollationRow['c']): string[] {
  const options = [`provider = ${PROVIDER[c.collprovider] ?? 'libc'}`];
  if (c.collprovider === 'c') {
    if (c.collcollate === c.collctype) options.push(`locale = ${quoteLiteral(c.collcollate ?? '')}`);
    else
      options.push(
        `lc_collate = ${quoteLiteral(c.collcollate ?? '')}`,
        `lc_ctype = ${quoteLiteral(c.collctype ?? '')}`,
      );
  } else {
    // ICU locale: colllocale from 17, colliculocale in 15–16, collcollate before.
    options.push(`locale = ${quoteLiteral(c.colllocale ?? c.colliculocale ?? c.collcollate ?? '')}`);
  }
  if (c.collisdeterministic === false) options.push('deterministic = false');
  if (c.collicurules) options.push(`rules = ${quoteLiteral(c.collicurules)}`);
  return options;
}
