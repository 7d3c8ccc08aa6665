// Publications, after the data (as pg_dump places them): CREATE PUBLICATION with what it
// publishes, then, a wave later, its owner, tables (ONLY, with the column list and row filter of
// PostgreSQL 15+) and schemas (15+), one statement each, on one session (post-data-units.ts).
// Subscriptions are in subscriptions.ts.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, Wave } from './context.ts';
import type { DdlStatement } from './model.ts';

interface PublicationRow {
  oid: number;
  ident: string;
  owner: string;
  all_tables: boolean;
  publish: string;
  via_root: boolean;
  /** [qualified table, column list or null, row filter or null] */
  tables: [string, string[] | null, string | null][] | null;
  schemas: string[] | null;
}

export async function capturePublications(capture: Capture): Promise<void> {
  const v15 = capture.version >= 150000;
  const rows = await capture.query<PublicationRow>(`
    SELECT p.oid, pg_catalog.quote_ident(p.pubname) AS ident, pg_catalog.pg_get_userbyid(p.pubowner) AS owner,
      p.puballtables AS all_tables,
      pg_catalog.concat_ws(', ', CASE WHEN p.pubinsert THEN 'insert' END, CASE WHEN p.pubupdate THEN 'update' END,
        CASE WHEN p.pubdelete THEN 'delete' END, CASE WHEN p.pubtruncate THEN 'truncate' END) AS publish,
      p.pubviaroot AS via_root,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(
          pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
          ${
            v15
              ? `(SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
              WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs))`
              : 'NULL'
          },
          ${v15 ? 'pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)' : 'NULL'}) ORDER BY n.nspname, c.relname)
        FROM pg_catalog.pg_publication_rel pr JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pr.prpubid = p.oid) AS tables,
      ${
        v15
          ? `(SELECT pg_catalog.array_agg(pg_catalog.quote_ident(n.nspname) ORDER BY n.nspname)
        FROM pg_catalog.pg_publication_namespace pn JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid)`
          : 'NULL'
      } AS schemas
    FROM pg_catalog.pg_publication p
    WHERE ${notExtensionMember('pg_publication', 'p.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const object = `publication ${row.ident}`;
    const options = [`publish = '${row.publish}'`, ...(row.via_root ? ['publish_via_partition_root = true'] : [])];
    // Created a wave before the rest: a wave's statements are sorted by object and SQL.
    capture.addPost(Wave.dependents, {
      object,
      kind: 'publication',
      sql: `CREATE PUBLICATION ${row.ident}${row.all_tables ? ' FOR ALL TABLES' : ''} WITH (${options.join(', ')})`,
    });
    const statements: DdlStatement[] = [ownerStatement(`PUBLICATION ${row.ident}`, object, row.owner)];
    for (const [table, columns, filter] of row.tables ?? []) {
      const list = columns ? ` (${columns.join(', ')})` : '';
      statements.push({
        object,
        kind: 'publication',
        sql: `ALTER PUBLICATION ${row.ident} ADD TABLE ONLY ${table}${list}${filter ? ` WHERE (${filter})` : ''}`,
      });
    }
    for (const schema of row.schemas ?? []) {
      statements.push({
        object,
        kind: 'publication',
        sql: `ALTER PUBLICATION ${row.ident} ADD TABLES IN SCHEMA ${schema}`,
      });
    }
    capture.addPost(Wave.finishing, ...statements);
    capture.comments.set(key('pg_publication', row.oid), {
      target: `PUBLICATION ${row.ident}`,
      object,
      wave: Wave.finishing,
    });
  }
}
