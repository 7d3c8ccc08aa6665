// SECURITY LABEL FOR provider ON … IS '…' for every captured object that has one (pg_seclabel),
// placed like its comment (the same targets: comments.ts), and for large objects after their
// owners. A target without the provider's module loaded fails the statement, and the restore with
// it, naming the object and PostgreSQL's "security label provider … is not loaded". A label on an
// object Tidemark does not place this way (an event trigger, a subscription) is reported by name.
// Labels on shared objects (roles, databases, tablespaces: pg_shseclabel) are the cluster's, as
// for pg_dump without --no-security-labels on a database dump.
import { type Capture, key, Wave } from './context.ts';
import type { DdlStatement } from './model.ts';
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';
import { listNames } from '../errors.ts';

export interface SecurityLabelRow {
  catalog: string;
  objoid: string;
  objsubid: number;
  provider: string;
  label: string;
  /** pg_describe_object's text, for the warning about a label that is not placed. */
  described: string;
}

export async function captureSecurityLabels(capture: Capture): Promise<void> {
  const rows = await capture.query<SecurityLabelRow>(`
    SELECT l.classoid::pg_catalog.regclass::pg_catalog.text AS catalog, l.objoid::pg_catalog.text AS objoid, l.objsubid,
      l.provider, l.label, pg_catalog.pg_describe_object(l.classoid, l.objoid, l.objsubid) AS described
    FROM pg_catalog.pg_seclabel l
    ORDER BY 1, 2, 3, 4`);
  placeSecurityLabels(capture, rows);
}

/** Adds each label's statement where its object's comment would go; warns about the rest. */
export function placeSecurityLabels(capture: Capture, rows: readonly SecurityLabelRow[]): void {
  const unplaced: string[] = [];
  for (const row of rows) {
    if (row.catalog === 'pg_largeobject') {
      const object = `large object ${row.objoid}`;
      capture.addPost(Wave.dependents, labelStatement(row, object, `LARGE OBJECT ${row.objoid}`));
      continue;
    }
    const target = capture.comments.get(key(row.catalog, row.objoid));
    const column = row.objsubid > 0 ? target?.columns?.get(row.objsubid) : undefined;
    if (!target || (row.objsubid > 0 && !column)) {
      // Extension members come back with their extension (and the label its script gives them).
      if (!capture.aliases.get(key(row.catalog, row.objoid))?.startsWith('pg_extension:'))
        unplaced.push(`${row.provider} on ${row.described}`);
      continue;
    }
    const statement = labelStatement(row, target.object, column ? `COLUMN ${column}` : target.target);
    if (target.node) capture.append(target.node, statement);
    else capture.addPost(target.wave ?? Wave.finishing, statement);
  }
  if (unplaced.length > 0)
    capture.warnings.push(
      `security labels not backed up (their objects' kind carries none): ${listNames(unplaced, 50)}`,
    );
}

export function labelStatement(
  row: Pick<SecurityLabelRow, 'provider' | 'label'>,
  object: string,
  on: string,
): DdlStatement {
  return {
    object,
    kind: 'security label',
    sql: `SECURITY LABEL FOR ${quoteIdentLikeServer(row.provider)} ON ${on} IS ${quoteLiteral(row.label)}`,
  };
}
