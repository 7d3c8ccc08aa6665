// CREATE AGGREGATE from pg_aggregate. Options equal to the server's defaults are left out.
import { quoteLiteral } from '../sql.ts';

export interface AggregateRow {
  args: string | null;
  aggkind: 'n' | 'o' | 'h' | null;
  sfunc: string | null;
  stype: string | null;
  sspace: number | null;
  finalfunc: string | null;
  finalextra: boolean | null;
  finalmodify: string | null;
  combinefunc: string | null;
  serialfunc: string | null;
  deserialfunc: string | null;
  initcond: string | null;
  msfunc: string | null;
  minvfunc: string | null;
  mstype: string | null;
  msspace: number | null;
  mfinalfunc: string | null;
  mfinalextra: boolean | null;
  mfinalmodify: string | null;
  minitcond: string | null;
  sortop: string | null;
  proparallel: string;
}

const proc = (col: string) => `CASE WHEN a.${col} <> 0 THEN a.${col}::pg_catalog.regproc::pg_catalog.text END`;

/** Select-list columns for AggregateRow; expects pg_proc `p` and LEFT JOINed pg_aggregate `a`. */
export const AGGREGATE_COLUMNS = `
  CASE WHEN p.prokind = 'a' THEN pg_catalog.pg_get_function_arguments(p.oid) END AS args,
  a.aggkind, ${proc('aggtransfn')} AS sfunc, pg_catalog.format_type(a.aggtranstype, NULL) AS stype,
  a.aggtransspace AS sspace, ${proc('aggfinalfn')} AS finalfunc, a.aggfinalextra AS finalextra,
  a.aggfinalmodify AS finalmodify, ${proc('aggcombinefn')} AS combinefunc, ${proc('aggserialfn')} AS serialfunc,
  ${proc('aggdeserialfn')} AS deserialfunc, a.agginitval AS initcond, ${proc('aggmtransfn')} AS msfunc,
  ${proc('aggminvtransfn')} AS minvfunc,
  CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END AS mstype,
  a.aggmtransspace AS msspace, ${proc('aggmfinalfn')} AS mfinalfunc, a.aggmfinalextra AS mfinalextra,
  a.aggmfinalmodify AS mfinalmodify, a.aggminitval AS minitcond,
  (SELECT 'OPERATOR(' || pg_catalog.quote_ident(o_n.nspname) || '.' || o.oprname || ')'
     FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace o_n ON o_n.oid = o.oprnamespace
     WHERE o.oid = a.aggsortop) AS sortop,
  p.proparallel`;

const MODIFY: Record<string, string> = { r: 'READ_ONLY', s: 'SHAREABLE', w: 'READ_WRITE' };
const PARALLEL: Record<string, string> = { s: 'SAFE', r: 'RESTRICTED' };

export function aggregateSql(name: string, row: AggregateRow): string {
  const options: string[] = [`SFUNC = ${row.sfunc}`, `STYPE = ${row.stype}`];
  const add = (cond: unknown, text: string) => {
    if (cond) options.push(text);
  };
  // Ordered-set aggregates default to READ_WRITE final functions, plain ones to READ_ONLY.
  const defaultModify = row.aggkind === 'n' ? 'r' : 'w';
  add(row.sspace, `SSPACE = ${row.sspace}`);
  add(row.finalfunc, `FINALFUNC = ${row.finalfunc}`);
  add(row.finalextra, 'FINALFUNC_EXTRA');
  add(row.finalfunc && row.finalmodify !== defaultModify, `FINALFUNC_MODIFY = ${MODIFY[row.finalmodify ?? 'r']}`);
  add(row.combinefunc, `COMBINEFUNC = ${row.combinefunc}`);
  add(row.serialfunc, `SERIALFUNC = ${row.serialfunc}`);
  add(row.deserialfunc, `DESERIALFUNC = ${row.deserialfunc}`);
  add(row.initcond !== null, `INITCOND = ${quoteLiteral(row.initcond ?? '')}`);
  add(row.msfunc, `MSFUNC = ${row.msfunc}`);
  add(row.minvfunc, `MINVFUNC = ${row.minvfunc}`);
  add(row.mstype, `MSTYPE = ${row.mstype}`);
  add(row.msspace, `MSSPACE = ${row.msspace}`);
  add(row.mfinalfunc, `MFINALFUNC = ${row.mfinalfunc}`);
  add(row.mfinalextra, 'MFINALFUNC_EXTRA');
  add(row.mfinalfunc && row.mfinalmodify !== defaultModify, `MFINALFUNC_MODIFY = ${MODIFY[row.mfinalmodify ?? 'r']}`);
  add(row.minitcond !== null, `MINITCOND = ${quoteLiteral(row.minitcond ?? '')}`);
  add(row.sortop, `SORTOP = ${row.sortop}`);
  add(PARALLEL[row.proparallel], `PARALLEL = ${PARALLEL[row.proparallel]}`);
  add(row.aggkind === 'h', 'HYPOTHETICAL');
  const args = row.args === '' ? '*' : row.args;
  return `CREATE AGGREGATE ${name}(${args}) (\n    ${options.join(',\n    ')}\n)`;
}
