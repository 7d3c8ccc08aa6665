// Large objects (FORMAT.md, "Large objects"): their data travels as the rows of one synthetic
// table through the normal chunk path — (loid, pageno, data), each piece LARGE_OBJECT_PIECE bytes
// read with lo_get — so a backup's chunks hold it and an incremental backup carries it whenever it
// changed. The restore loads the pieces into a staging table of its progress schema and creates
// the objects from them before post-data (restore/large-objects.ts). Owners, privileges and
// comments are post-data statements; one object's privileges go one per wave in their order, as a
// relation's grants do (capture.ts, grantWaves), so each is skipped alone where the target lacks
// its role and two never run side by side on the object's one catalog row.
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { type Capture, Wave } from './context.ts';
import type { CatalogQuery, TableData } from './model.ts';
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';
import { SourceAccessError, listNames } from '../errors.ts';

/** Bytes per piece: a row of a few hundred KB keeps chunks near their target size. */
export const LARGE_OBJECT_PIECE = 256 * 1024;

/** Where the restore stages the pieces (restore/progress-table.ts creates it). */
export const LARGE_OBJECTS_TABLE: TableData = {
  schema: '_tidemark_restore',
  name: 'large_objects',
  columns: ['loid', 'pageno', 'data'],
  source: { kind: 'large objects' },
};

const INV_READ = 0x40000;

/**
 * Every piece of every large object, in order; an empty object is one empty piece. The size is
 * read by seeking to the end of a descriptor opened for reading (closed with the transaction).
 */
export const LARGE_OBJECT_PIECES = `SELECT m.oid AS loid, s.n AS pageno, pg_catalog.lo_get(m.oid, s.n * ${LARGE_OBJECT_PIECE}, ${LARGE_OBJECT_PIECE}) AS data
  FROM pg_catalog.pg_largeobject_metadata m
  CROSS JOIN LATERAL (SELECT pg_catalog.lo_lseek64(pg_catalog.lo_open(m.oid, ${INV_READ}), 0, 2) AS size) z
  CROSS JOIN LATERAL pg_catalog.generate_series(0::pg_catalog.int8, GREATEST(0, (z.size - 1) / ${LARGE_OBJECT_PIECE})) s(n)
  ORDER BY m.oid, s.n`;

interface LargeObjectRow {
  oid: string;
  owner: string;
  acl: AclJson | null;
  comment: string | null;
}

export async function captureLargeObjects(capture: Capture): Promise<void> {
  const rows = await capture.query<LargeObjectRow>(`
    SELECT m.oid::pg_catalog.text AS oid, pg_catalog.pg_get_userbyid(m.lomowner) AS owner,
      ${aclSql('m.lomacl', 'L', 'm.lomowner')} AS acl, pg_catalog.obj_description(m.oid, 'pg_largeobject') AS comment
    FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid`);
  if (rows.length === 0) return;
  await checkLargeObjectAccess(capture);
  capture.tables.push({ key: 'large objects', ...LARGE_OBJECTS_TABLE });
  for (const row of rows) {
    const object = `large object ${row.oid}`;
    const target = `LARGE OBJECT ${row.oid}`;
    capture.addPost(Wave.attach, ownerStatement(target, object, row.owner));
    const grants = privilegeStatements(target, object, row.owner, row.acl);
    if (grants.length > 0) capture.addPost(Wave.dependents, ...grants);
    if (row.comment !== null)
      capture.addPost(Wave.finishing, {
        object,
        kind: 'comment',
        sql: `COMMENT ON ${target} IS ${quoteLiteral(row.comment)}`,
      });
  }
}

/**
 * Reading a large object needs SELECT on it (or a superuser, or lo_compat_privileges): without it
 * the export would stop at the first one. One error names them all and the GRANT to run.
 * has_largeobject_privilege() is PostgreSQL 17's; before, ownership (membership) and the ACL
 * are read directly.
 */
async function checkLargeObjectAccess(capture: Capture): Promise<void> {
  const readable =
    capture.version >= 170000
      ? `pg_catalog.has_largeobject_privilege(m.oid, 'SELECT')`
      : `(pg_catalog.pg_has_role(m.lomowner, 'USAGE') OR EXISTS (SELECT 1 FROM pg_catalog.aclexplode(m.lomacl) a
          WHERE a.privilege_type = 'SELECT' AND (a.grantee = 0 OR pg_catalog.pg_has_role(a.grantee, 'USAGE'))))`;
  const denied = await capture.query<{ oid: string; role: string }>(`
    SELECT m.oid::pg_catalog.text AS oid, CURRENT_USER AS role FROM pg_catalog.pg_largeobject_metadata m
    WHERE NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER)
      AND pg_catalog.current_setting('lo_compat_privileges') = 'off' AND NOT ${readable}
    ORDER BY m.oid`);
  if (denied.length === 0) return;
  throw new SourceAccessError(
    `Role "${denied[0]!.role}" cannot read large object ${listNames(
      denied.map((d) => d.oid),
      10,
    )}, so nothing was exported: grant it SELECT on them (GRANT SELECT ON LARGE OBJECT … TO ${quoteIdentLikeServer(denied[0]!.role)}) or back up as a superuser or their owner.`,
  );
}

/**
 * What an incremental backup compares with its parent's to keep the large objects' entry
 * (FORMAT.md): the objects' oids and each visible page's (loid, pageno, xmin) — any write makes a
 * page with a new xmin. Reading pg_largeobject needs a superuser (or a grant on it): without, ''
 * (never equal: the data is read whole each time).
 */
export async function largeObjectsFingerprint(query: CatalogQuery): Promise<string> {
  const [access] = await query<{ ok: boolean }>(
    `SELECT pg_catalog.has_table_privilege('pg_catalog.pg_largeobject', 'SELECT') AS ok`,
  );
  if (!access?.ok) return '';
  const [row] = await query<{ fingerprint: string }>(`
    SELECT pg_catalog.md5(pg_catalog.concat_ws('|',
      (SELECT pg_catalog.string_agg(m.oid::pg_catalog.text, ',' ORDER BY m.oid) FROM pg_catalog.pg_largeobject_metadata m),
      (SELECT pg_catalog.string_agg(l.loid || ':' || l.pageno || ':' || l.xmin::pg_catalog.text, ',' ORDER BY l.loid, l.pageno)
         FROM pg_catalog.pg_largeobject l))) AS fingerprint`);
  return `large objects ${row!.fingerprint}`;
}
