// User-defined operators and casts, after the functions and types they use. An operator may name
// its commutator and negator before they exist: PostgreSQL then makes a shell operator that the
// later CREATE OPERATOR fills in, so operators need no order among themselves (as in pg_dump).
import { ownerStatement } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';

interface OperatorRow {
  oid: number;
  /** `schema.name`, the schema quoted (operator names are symbols, never quoted). */
  name: string;
  left: string | null;
  right: string | null;
  func: string;
  commutator: string | null;
  negator: string | null;
  restrict: string | null;
  join: string | null;
  hashes: boolean;
  merges: boolean;
  owner: string;
}

const operatorName = (alias: string) => `(SELECT pg_catalog.quote_ident(n2.nspname) || '.' || ${alias}.oprname
  FROM pg_catalog.pg_namespace n2 WHERE n2.oid = ${alias}.oprnamespace)`;
const procName = (expr: string) => `CASE WHEN ${expr} <> 0 THEN ${expr}::pg_catalog.regproc::pg_catalog.text END`;

export async function captureOperators(capture: Capture): Promise<void> {
  // regproc and format_type print names qualified: captureSchema emptied search_path.
  const rows = await capture.query<OperatorRow>(`
    SELECT o.oid, ${operatorName('o')} AS name,
      CASE WHEN o.oprleft <> 0 THEN pg_catalog.format_type(o.oprleft, NULL) END AS left,
      CASE WHEN o.oprright <> 0 THEN pg_catalog.format_type(o.oprright, NULL) END AS right,
      o.oprcode::pg_catalog.regproc::pg_catalog.text AS func,
      (SELECT ${operatorName('c')} FROM pg_catalog.pg_operator c WHERE c.oid = o.oprcom) AS commutator,
      (SELECT ${operatorName('g')} FROM pg_catalog.pg_operator g WHERE g.oid = o.oprnegate) AS negator,
      ${procName('o.oprrest')} AS restrict, ${procName('o.oprjoin')} AS join,
      o.oprcanhash AS hashes, o.oprcanmerge AS merges, pg_catalog.pg_get_userbyid(o.oprowner) AS owner
    FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
    WHERE o.oid >= 16384 AND o.oprcode <> 0 AND ${USER_SCHEMA} AND ${notExtensionMember('pg_operator', 'o.oid')}
    ORDER BY 2, 3, 4`);
  for (const row of rows) {
    const signature = `${row.name} (${row.left ?? 'NONE'}, ${row.right ?? 'NONE'})`;
    const object = `operator ${signature}`;
    const options = [
      `FUNCTION = ${row.func}`,
      ...(row.left ? [`LEFTARG = ${row.left}`] : []),
      ...(row.right ? [`RIGHTARG = ${row.right}`] : []),
      ...(row.commutator ? [`COMMUTATOR = OPERATOR(${row.commutator})`] : []),
      ...(row.negator ? [`NEGATOR = OPERATOR(${row.negator})`] : []),
      ...(row.restrict ? [`RESTRICT = ${row.restrict}`] : []),
      ...(row.join ? [`JOIN = ${row.join}`] : []),
      ...(row.hashes ? ['HASHES'] : []),
      ...(row.merges ? ['MERGES'] : []),
    ];
    const nodeKey = key('pg_operator', row.oid);
    capture.add({
      key: nodeKey,
      kind: 'operator',
      identity: signature,
      statements: [
        { object, kind: 'operator', sql: `CREATE OPERATOR ${row.name} (${options.join(', ')})` },
        ownerStatement(`OPERATOR ${signature}`, object, row.owner),
      ],
    });
    capture.comments.set(nodeKey, { target: `OPERATOR ${signature}`, object, node: nodeKey });
  }
}

interface CastRow {
  oid: number;
  source: string;
  target: string;
  func: string | null;
  method: 'f' | 'i' | 'b';
  context: 'e' | 'a' | 'i';
}

export async function captureCasts(capture: Capture): Promise<void> {
  // Casts a type's creation makes itself (a multirange's) depend on it internally: not user casts.
  const rows = await capture.query<CastRow>(`
    SELECT c.oid, pg_catalog.format_type(c.castsource, NULL) AS source, pg_catalog.format_type(c.casttarget, NULL) AS target,
      CASE WHEN c.castfunc <> 0 THEN c.castfunc::pg_catalog.regprocedure::pg_catalog.text END AS func,
      c.castmethod AS method, c.castcontext AS context
    FROM pg_catalog.pg_cast c
    WHERE c.oid >= 16384 AND ${notExtensionMember('pg_cast', 'c.oid')}
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i WHERE i.classid = 'pg_catalog.pg_cast'::pg_catalog.regclass
        AND i.objid = c.oid AND i.deptype = 'i')
    ORDER BY 2, 3`);
  for (const row of rows) {
    const signature = `(${row.source} AS ${row.target})`;
    const object = `cast ${signature}`;
    const how =
      row.method === 'f' ? `WITH FUNCTION ${row.func}` : row.method === 'i' ? 'WITH INOUT' : 'WITHOUT FUNCTION';
    const context = row.context === 'a' ? ' AS ASSIGNMENT' : row.context === 'i' ? ' AS IMPLICIT' : '';
    const nodeKey = key('pg_cast', row.oid);
    capture.add({
      key: nodeKey,
      kind: 'cast',
      identity: signature,
      statements: [{ object, kind: 'cast', sql: `CREATE CAST ${signature} ${how}${context}` }],
    });
    capture.comments.set(nodeKey, { target: `CAST ${signature}`, object, node: nodeKey });
  }
}
