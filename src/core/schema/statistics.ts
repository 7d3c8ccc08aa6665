// Extended statistics objects (CREATE STATISTICS), after the data like indexes.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA, Wave } from './context.ts';

interface StatisticsRow {
  oid: number;
  ident: string;
  def: string;
  owner: string;
  target: number | null;
}

export async function captureStatistics(capture: Capture): Promise<void> {
  const rows = await capture.query<StatisticsRow>(`
    SELECT s.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(s.stxname) AS ident,
      pg_catalog.pg_get_statisticsobjdef(s.oid) AS def, pg_catalog.pg_get_userbyid(s.stxowner) AS owner,
      CASE WHEN s.stxstattarget >= 0 THEN s.stxstattarget END AS target
    FROM pg_catalog.pg_statistic_ext s
    JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace
    -- Only on relations that are captured (not on foreign tables).
    JOIN pg_catalog.pg_class c ON c.oid = s.stxrelid AND c.relkind IN ('r', 'p', 'm')
    WHERE ${USER_SCHEMA} AND ${notExtensionMember('pg_statistic_ext', 's.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const object = `statistics ${row.ident}`;
    capture.addPost(Wave.indexes, { object, kind: 'statistics', sql: row.def });
    capture.addPost(Wave.attach, ownerStatement(`STATISTICS ${row.ident}`, object, row.owner));
    if (row.target !== null) {
      capture.addPost(Wave.attach, {
        object,
        kind: 'statistics',
        sql: `ALTER STATISTICS ${row.ident} SET STATISTICS ${row.target}`,
      });
    }
    capture.comments.set(key('pg_statistic_ext', row.oid), {
      target: `STATISTICS ${row.ident}`,
      object,
      wave: Wave.dependents,
    });
  }
}
