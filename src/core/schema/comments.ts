// COMMENT ON for every captured object that has one: one read of pg_description, each comment
// placed with its object (pre-data node or post-data wave). Comments on objects that are not
// captured (extension members, objects in a catalog Tidemark does not know: uncaptured.ts) are left out with them.
import { Capture, key } from './context.ts';
import { quoteLiteral } from '../sql.ts';

interface CommentRow {
  catalog: string;
  objoid: number;
  objsubid: number;
  description: string;
}

export async function captureComments(capture: Capture): Promise<void> {
  const rows = await capture.query<CommentRow>(`
    SELECT d.classoid::pg_catalog.regclass::pg_catalog.text AS catalog, d.objoid, d.objsubid, d.description
    FROM pg_catalog.pg_description d
    WHERE d.objoid >= 16384
    ORDER BY 1, 2, 3`);
  for (const row of rows) {
    const target = capture.comments.get(key(row.catalog, row.objoid));
    if (!target) continue;
    let on = target.target;
    if (row.objsubid > 0) {
      const column = target.columns?.get(row.objsubid);
      if (!column) continue;
      on = `COLUMN ${column}`;
    }
    const statement = {
      object: target.object,
      kind: 'comment',
      sql: `COMMENT ON ${on} IS ${quoteLiteral(row.description)}`,
    };
    if (target.node) capture.append(target.node, statement);
    else capture.addPost(target.wave ?? 0, statement);
  }
}
