// Operator families and classes, as pg_dump's dumpOpfamily/dumpOpclass write them: every family
// first (an opclass's implicit one too, which CREATE OPERATOR CLASS … FAMILY then reuses), with
// its loose members (those depending on the family, not on a class: ALTER OPERATOR FAMILY … ADD),
// then each class with the members it owns. Members are aliased to the node that creates them,
// so their operators and functions order before it.
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';

/** [pg_amop oid, strategy, operator as regoperator, sort family (qualified) or null] */
type OperatorMember = [number, number, string, string | null];
/** [pg_amproc oid, support number, left type, right type, function as regprocedure] */
type FunctionMember = [number, number, string, string, string];

interface FamilyRow {
  oid: number;
  ident: string;
  method: string;
  owner: string;
  operators: OperatorMember[] | null;
  functions: FunctionMember[] | null;
  /** Operand types of the members: a support function taking `internal` does not name them. */
  member_types: number[] | null;
}

interface ClassRow extends FamilyRow {
  family_oid: number;
  family: string;
  type: string;
  is_default: boolean;
  storage: string | null;
}

const qualified = (
  schemaOid: string,
  name: string,
) => `(SELECT pg_catalog.quote_ident(qn.nspname) || '.' || pg_catalog.quote_ident(${name})
  FROM pg_catalog.pg_namespace qn WHERE qn.oid = ${schemaOid})`;

/** Members of `catalog` row `oidExpr` (pg_opfamily or pg_opclass) by their pg_depend entry. */
const members = (catalog: string, oidExpr: string) => `
  (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(ao.oid::pg_catalog.int8, ao.amopstrategy,
      ao.amopopr::pg_catalog.regoperator::pg_catalog.text,
      (SELECT ${qualified('sf.opfnamespace', 'sf.opfname')} FROM pg_catalog.pg_opfamily sf WHERE sf.oid = ao.amopsortfamily))
    ORDER BY ao.amopstrategy, ao.amoplefttype, ao.amoprighttype)
   FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = ao.oid
   WHERE d.refclassid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND d.refobjid = ${oidExpr}) AS operators,
  (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(ap.oid::pg_catalog.int8, ap.amprocnum,
      pg_catalog.format_type(ap.amproclefttype, NULL), pg_catalog.format_type(ap.amprocrighttype, NULL),
      ap.amproc::pg_catalog.regprocedure::pg_catalog.text)
    ORDER BY ap.amprocnum, ap.amproclefttype, ap.amprocrighttype)
   FROM pg_catalog.pg_amproc ap JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = ap.oid
   WHERE d.refclassid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND d.refobjid = ${oidExpr}) AS functions,
  (SELECT pg_catalog.array_agg(DISTINCT m.type) FROM (
      SELECT pg_catalog.unnest(ARRAY[ao.amoplefttype, ao.amoprighttype]) FROM pg_catalog.pg_amop ao
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amop'::pg_catalog.regclass AND d.objid = ao.oid
       WHERE d.refclassid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND d.refobjid = ${oidExpr}
      UNION ALL
      SELECT pg_catalog.unnest(ARRAY[ap.amproclefttype, ap.amprocrighttype]) FROM pg_catalog.pg_amproc ap
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_amproc'::pg_catalog.regclass AND d.objid = ap.oid
       WHERE d.refclassid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND d.refobjid = ${oidExpr}) AS m(type)) AS member_types`;

export async function captureOperatorClasses(capture: Capture): Promise<void> {
  // regoperator, regprocedure and format_type qualify names: captureSchema emptied search_path.
  const families = await capture.query<FamilyRow>(`
    SELECT f.oid, ${qualified('f.opfnamespace', 'f.opfname')} AS ident, pg_catalog.quote_ident(am.amname) AS method,
      pg_catalog.pg_get_userbyid(f.opfowner) AS owner, ${members('pg_opfamily', 'f.oid')}
    FROM pg_catalog.pg_opfamily f JOIN pg_catalog.pg_am am ON am.oid = f.opfmethod
    JOIN pg_catalog.pg_namespace n ON n.oid = f.opfnamespace
    WHERE f.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_opfamily', 'f.oid')}
    ORDER BY 2, 3`);
  for (const row of families) {
    const name = `${row.ident} USING ${row.method}`;
    const object = `operator family ${name}`;
    const nodeKey = key('pg_opfamily', row.oid);
    const loose = memberList(capture, nodeKey, row);
    capture.add({
      key: nodeKey,
      kind: 'operator family',
      identity: name,
      after: typeKeys(row),
      statements: [
        { object, kind: 'operator family', sql: `CREATE OPERATOR FAMILY ${name}` },
        ...(loose ? [{ object, kind: 'operator family', sql: `ALTER OPERATOR FAMILY ${name} ADD ${loose}` }] : []),
        ownerStatement(`OPERATOR FAMILY ${name}`, object, row.owner),
      ],
    });
    capture.comments.set(nodeKey, { target: `OPERATOR FAMILY ${name}`, object, node: nodeKey });
  }
  const classes = await capture.query<ClassRow>(`
    SELECT c.oid, ${qualified('c.opcnamespace', 'c.opcname')} AS ident, pg_catalog.quote_ident(am.amname) AS method,
      pg_catalog.pg_get_userbyid(c.opcowner) AS owner, c.opcfamily AS family_oid,
      (SELECT ${qualified('f.opfnamespace', 'f.opfname')} FROM pg_catalog.pg_opfamily f WHERE f.oid = c.opcfamily) AS family,
      pg_catalog.format_type(c.opcintype, NULL) AS type, c.opcdefault AS is_default,
      CASE WHEN c.opckeytype <> 0 THEN pg_catalog.format_type(c.opckeytype, NULL) END AS storage,
      ${members('pg_opclass', 'c.oid')}
    FROM pg_catalog.pg_opclass c JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod
    JOIN pg_catalog.pg_namespace n ON n.oid = c.opcnamespace
    WHERE c.oid >= 16384 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_opclass', 'c.oid')}
    ORDER BY 2, 3`);
  for (const row of classes) {
    const name = `${row.ident} USING ${row.method}`;
    const object = `operator class ${name}`;
    const nodeKey = key('pg_opclass', row.oid);
    const items = [...(row.storage ? [`STORAGE ${row.storage}`] : []), memberList(capture, nodeKey, row)];
    const create =
      `CREATE OPERATOR CLASS ${row.ident} ${row.is_default ? 'DEFAULT ' : ''}FOR TYPE ${row.type} ` +
      `USING ${row.method} FAMILY ${row.family} AS ${items.filter((i) => i !== '').join(', ')}`;
    capture.add({
      key: nodeKey,
      kind: 'operator class',
      identity: name,
      after: [key('pg_opfamily', row.family_oid), ...typeKeys(row)],
      statements: [
        { object, kind: 'operator class', sql: create },
        ownerStatement(`OPERATOR CLASS ${name}`, object, row.owner),
      ],
    });
    capture.comments.set(nodeKey, { target: `OPERATOR CLASS ${name}`, object, node: nodeKey });
  }
}

/**
 * The OPERATOR and FUNCTION items of a class or of a family's loose members, each with both
 * operand types, aliasing each member to `nodeKey`.
 */
function memberList(capture: Capture, nodeKey: string, row: FamilyRow): string {
  const items: string[] = [];
  for (const [oid, strategy, operator, sortFamily] of row.operators ?? []) {
    capture.alias(key('pg_amop', oid), nodeKey);
    items.push(`OPERATOR ${strategy} ${operator}${sortFamily ? ` FOR ORDER BY ${sortFamily}` : ''}`);
  }
  for (const [oid, number, left, right, func] of row.functions ?? []) {
    capture.alias(key('pg_amproc', oid), nodeKey);
    items.push(`FUNCTION ${number} (${left}, ${right}) ${func}`);
  }
  return items.join(', ');
}

const typeKeys = (row: FamilyRow) => (row.member_types ?? []).map((oid) => key('pg_type', oid));
