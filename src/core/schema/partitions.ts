// Partitions are created as standalone tables and attached afterwards, as pg_dump does: the
// partition keeps its own column order, and ATTACH gives the same catalog state as PARTITION OF.
import { Capture, key } from './context.ts';
import type { RelationRow } from './relations.ts';

export function addPartitionAttachment(capture: Capture, rel: RelationRow): void {
  const [parentOid, parent] = rel.parents?.[0] ?? [];
  if (!parent || rel.bound === null) return;
  const object = `table ${rel.ident}`;
  capture.add({
    key: `attach:${rel.oid}`,
    kind: 'partition attach',
    identity: rel.ident,
    after: [key('pg_class', rel.oid), key('pg_class', parentOid)],
    statements: [
      { object, kind: 'partition', sql: `ALTER TABLE ONLY ${parent} ATTACH PARTITION ${rel.ident} ${rel.bound}` },
    ],
  });
}
