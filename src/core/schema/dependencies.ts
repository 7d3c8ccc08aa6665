// Normal dependencies between user objects, from pg_depend. Array types are folded into their
// element type here; the capture's aliases fold every other sub-object into its owner.
import type { Capture } from './context.ts';

export interface Dependency {
  /** `catalog:oid` of the dependent object. */
  from: string;
  /** `catalog:oid` of the object it needs. */
  to: string;
}

export async function readDependencies(capture: Capture): Promise<Dependency[]> {
  const rows = await capture.query<{ catalog: string; objid: number; ref_catalog: string; ref_objid: number }>(`
    SELECT d.classid::pg_catalog.regclass::pg_catalog.text AS catalog, d.objid,
      d.refclassid::pg_catalog.regclass::pg_catalog.text AS ref_catalog,
      CASE WHEN d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass
        THEN COALESCE((SELECT e.oid FROM pg_catalog.pg_type e WHERE e.typarray = d.refobjid), d.refobjid)
        ELSE d.refobjid END AS ref_objid
    FROM pg_catalog.pg_depend d
    WHERE d.deptype = 'n' AND d.objid >= 16384 AND d.refobjid >= 16384`);
  return rows.map((r) => ({ from: `${r.catalog}:${r.objid}`, to: `${r.ref_catalog}:${r.ref_objid}` }));
}
