// Views and materialized views from pg_get_viewdef. Materialized views are created WITH NO DATA;
// the populated ones are listed for a REFRESH after the load.
import { ownerStatement, privilegeStatements } from './acl.ts';
import { columnSettings } from './columns.ts';
import { Capture, key } from './context.ts';
import type { DdlStatement } from './model.ts';
import { renderOptions } from './quote.ts';
import type { ColumnRow, RelationRow } from './relations.ts';

export function addView(capture: Capture, rel: RelationRow, columns: ColumnRow[]): void {
  const materialized = rel.relkind === 'm';
  const keyword = materialized ? 'MATERIALIZED VIEW' : 'VIEW';
  const object = `${keyword.toLowerCase()} ${rel.ident}`;
  const nodeKey = key('pg_class', rel.oid);
  const body = (rel.viewdef ?? '').trim().replace(/;$/, '');
  const options = rel.reloptions?.length ? ` WITH (${renderOptions(rel.reloptions)})` : '';
  const statements: DdlStatement[] = [
    {
      object,
      kind: materialized ? 'materialized view' : 'view',
      sql: `CREATE ${keyword} ${rel.ident}${rel.access_method ? ` USING ${rel.access_method}` : ''}${options} AS\n${body}${materialized ? '\nWITH NO DATA' : ''}`,
    },
  ];
  for (const col of columns) {
    if (materialized) statements.push(...columnSettings(rel.ident, object, col));
    else if (col.default_expr !== null) {
      // Views can carry column defaults used by INSERTs through them.
      statements.push({
        object,
        kind: 'default',
        sql: `ALTER VIEW ${rel.ident} ALTER COLUMN ${col.ident} SET DEFAULT ${col.default_expr}`,
      });
    }
  }
  statements.push(ownerStatement(`${keyword} ${rel.ident}`, object, rel.owner));
  statements.push(...privilegeStatements(`TABLE ${rel.ident}`, object, rel.owner, rel.acl));
  for (const col of columns) {
    statements.push(...privilegeStatements(`TABLE ${rel.ident}`, object, rel.owner, col.acl, col.ident));
  }
  const after = rel.access_method_oid !== null ? [key('pg_am', rel.access_method_oid)] : [];
  capture.add({
    key: nodeKey,
    kind: materialized ? 'materialized view' : 'view',
    identity: rel.ident,
    statements,
    after,
  });
  capture.alias(key('pg_type', rel.reltype), nodeKey);
  if (rel.return_rule !== null) capture.alias(key('pg_rewrite', rel.return_rule), nodeKey);
  capture.comments.set(nodeKey, {
    target: `${keyword} ${rel.ident}`,
    object,
    node: nodeKey,
    columns: new Map(columns.map((c) => [c.attnum, `${rel.ident}.${c.ident}`])),
  });
  if (materialized && rel.populated)
    capture.populatedMatviews.push({ key: nodeKey, schema: rel.schema, name: rel.name });
}
