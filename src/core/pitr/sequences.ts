// After replay, sequences owned by a column (serial, identity) end at least as high as any value a
// replayed row holds: test_decoding does not decode sequences, so the backup's values would hand
// out ids the replayed rows already use. (The source's own value at the target can be higher
// still — nextval calls of transactions that rolled back — and is not in the archive.)
import type { SqlSession } from '../ports/database.ts';

export async function raiseOwnedSequences(session: SqlSession): Promise<string[]> {
  const owned = await session.query<{ seq: string; rel: string; col: string }>(
    `SELECT s.oid::pg_catalog.regclass::text AS seq, c.oid::pg_catalog.regclass::text AS rel, pg_catalog.quote_ident(a.attname) AS col
       FROM pg_catalog.pg_class s
       JOIN pg_catalog.pg_sequence q ON q.seqrelid = s.oid AND q.seqincrement > 0
       JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = s.oid
        AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
       JOIN pg_catalog.pg_class c ON c.oid = d.refobjid
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
      WHERE s.relkind = 'S' ORDER BY 1`,
  );
  const raised: string[] = [];
  for (const { seq, rel, col } of owned) {
    const rows = await session.query(
      `SELECT pg_catalog.setval($1::pg_catalog.regclass, m::bigint)
         FROM (SELECT pg_catalog.max(${col}) AS m FROM ${rel}) x
        WHERE m IS NOT NULL AND m > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${seq})`,
      [seq],
    );
    if (rows.length) raised.push(seq);
  }
  return raised;
}
