// Sequences: definition, OWNED BY (a separate node, to break the sequence ↔ table cycle the way
// pg_dump does) and the current value. Identity sequences are created with their column.
import { aclSql, ownerStatement, privilegeStatements, type AclJson } from './acl.ts';
import { Capture, key, notExtensionMember, USER_SCHEMA } from './context.ts';
import { SourceAccessError, listNames } from '../errors.ts';
import { quoteIdentLikeServer } from '../sql.ts';

interface SequenceRow {
  oid: number;
  ident: string;
  schema: string;
  name: string;
  owner: string;
  acl: AclJson | null;
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  unlogged: boolean;
  /** [quoted table, quoted column, deptype, table oid, attnum, table is unlogged] */
  owned_by: [string, string, 'a' | 'i', number, number, boolean] | null;
}

export async function captureSequences(capture: Capture): Promise<void> {
  const rows = await capture.query<SequenceRow>(`
    SELECT c.oid, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS ident,
      n.nspname AS schema, c.relname AS name, pg_catalog.pg_get_userbyid(c.relowner) AS owner,
      ${aclSql('c.relacl', 's', 'c.relowner')} AS acl, pg_catalog.format_type(s.seqtypid, NULL) AS type,
      s.seqstart::pg_catalog.text AS start, s.seqincrement::pg_catalog.text AS increment,
      s.seqmin::pg_catalog.text AS min, s.seqmax::pg_catalog.text AS max, s.seqcache::pg_catalog.text AS cache,
      s.seqcycle AS cycle, c.relpersistence = 'u' AS unlogged,
      (SELECT pg_catalog.json_build_array(
          pg_catalog.quote_ident(tn.nspname) || '.' || pg_catalog.quote_ident(t.relname),
          pg_catalog.quote_ident(a.attname), d.deptype, t.oid::pg_catalog.int8, a.attnum, t.relpersistence = 'u')
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
        JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
        JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
          AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
          AND d.refobjsubid > 0 LIMIT 1) AS owned_by
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
    WHERE c.relkind = 'S' AND ${USER_SCHEMA} AND ${notExtensionMember('pg_class', 'c.oid')}`);

  for (const row of rows) {
    const bounds = `START WITH ${row.start} INCREMENT BY ${row.increment} MINVALUE ${row.min} MAXVALUE ${row.max} CACHE ${row.cache}${row.cycle ? ' CYCLE' : ' NO CYCLE'}`;
    const nodeKey = key('pg_class', row.oid);
    capture.sequences.push({ key: nodeKey, schema: row.schema, name: row.name, lastValue: '', isCalled: false });
    const object = `sequence ${row.ident}`;
    if (row.owned_by?.[2] === 'i') {
      // Created with its identity column; its privileges and comment follow the table.
      const tableKey = key('pg_class', row.owned_by[3]);
      capture.identityOptions.set(`${row.owned_by[3]}:${row.owned_by[4]}`, `SEQUENCE NAME ${row.ident} ${bounds}`);
      capture.alias(nodeKey, tableKey);
      const extrasKey = `identity:${row.oid}`;
      capture.add({
        key: extrasKey,
        kind: 'sequence owned by',
        identity: row.ident,
        after: [tableKey],
        statements: [
          ...identityPersistence(capture, row, object),
          ...privilegeStatements(`SEQUENCE ${row.ident}`, object, row.owner, row.acl),
        ],
      });
      capture.comments.set(nodeKey, { target: `SEQUENCE ${row.ident}`, object, node: extrasKey });
      continue;
    }
    capture.add({
      key: nodeKey,
      kind: 'sequence',
      identity: row.ident,
      statements: [
        {
          object,
          kind: 'sequence',
          sql: `CREATE ${row.unlogged ? 'UNLOGGED ' : ''}SEQUENCE ${row.ident} AS ${row.type} ${bounds}`,
        },
        ownerStatement(`SEQUENCE ${row.ident}`, object, row.owner),
        ...privilegeStatements(`SEQUENCE ${row.ident}`, object, row.owner, row.acl),
      ],
    });
    capture.comments.set(nodeKey, { target: `SEQUENCE ${row.ident}`, object, node: nodeKey });
    if (row.owned_by) {
      const [table, column, , tableOid] = row.owned_by;
      capture.add({
        key: `owned:${row.oid}`,
        kind: 'sequence owned by',
        identity: row.ident,
        after: [nodeKey, key('pg_class', tableOid)],
        statements: [
          { object, kind: 'sequence owned by', sql: `ALTER SEQUENCE ${row.ident} OWNED BY ${table}.${column}` },
        ],
      });
    }
  }
  await readSequenceStates(capture, rows);
}

/**
 * An identity sequence is created with its table's persistence; from PostgreSQL 15 it can differ
 * (ALTER SEQUENCE … SET LOGGED). Before 15 sequences were always logged, but a newer target
 * makes an UNLOGGED table's identity sequence unlogged: set it back there only.
 */
function identityPersistence(
  capture: Capture,
  row: SequenceRow,
  object: string,
): { object: string; kind: string; sql: string }[] {
  const tableUnlogged = row.owned_by?.[5] ?? false;
  if (row.unlogged === tableUnlogged) return [];
  const alter = `ALTER SEQUENCE ${row.ident} SET ${row.unlogged ? 'UNLOGGED' : 'LOGGED'}`;
  if (capture.version >= 150000) return [{ object, kind: 'sequence persistence', sql: alter }];
  return [
    {
      object,
      kind: 'sequence persistence',
      sql: `DO $tidemark$ BEGIN IF pg_catalog.current_setting('server_version_num')::pg_catalog.int4 >= 150000 THEN ${alter}; END IF; END $tidemark$`,
    },
  ];
}

/**
 * A sequence's state is only fully readable from the sequence itself. pg_sequence_last_value()
 * (and pg_get_sequence_data() from PostgreSQL 18) read all of them in one query; only the ones
 * never called (NULL there: is_called false, last_value unknown) are read directly, in small
 * UNION ALL batches (planning time grows faster than linearly with the number of branches).
 */
async function readSequenceStates(capture: Capture, rows: SequenceRow[]): Promise<void> {
  if (rows.length === 0) return;
  await checkSequenceAccess(capture, rows);
  const byKey = new Map(capture.sequences.map((s) => [s.key, s]));
  const record = (state: { oid: number; last_value: string | null; is_called: boolean | null }) => {
    const sequence = byKey.get(key('pg_class', state.oid));
    if (!sequence || state.last_value === null) return false;
    sequence.lastValue = state.last_value;
    sequence.isCalled = state.is_called ?? true;
    return true;
  };
  const oids = rows.map((r) => r.oid).join(',');
  const bulk =
    capture.version >= 180000
      ? `SELECT c.oid, d.last_value::pg_catalog.text AS last_value, d.is_called
         FROM pg_catalog.pg_class c, pg_catalog.pg_get_sequence_data(c.oid) d WHERE c.oid IN (${oids})`
      : `SELECT c.oid, pg_catalog.pg_sequence_last_value(c.oid)::pg_catalog.text AS last_value, true AS is_called
         FROM pg_catalog.pg_class c WHERE c.oid IN (${oids})`;
  const known = new Set<number>();
  for (const state of await capture.query<{ oid: number; last_value: string | null; is_called: boolean | null }>(
    bulk,
  )) {
    if (record(state)) known.add(state.oid);
  }
  const rest = rows.filter((r) => !known.has(r.oid));
  for (let i = 0; i < rest.length; i += 50) {
    const sql = rest
      .slice(i, i + 50)
      .map(
        (r) =>
          `SELECT ${r.oid}::pg_catalog.oid AS oid, last_value::pg_catalog.text AS last_value, is_called FROM ${r.ident}`,
      )
      .join('\nUNION ALL\n');
    for (const state of await capture.query<{ oid: number; last_value: string; is_called: boolean }>(sql))
      record(state);
  }
}

/**
 * Reading a sequence's state needs SELECT on it (and, for one never called, USAGE on its
 * schema): a role without them gets one error naming every such sequence and the GRANT to run,
 * instead of PostgreSQL's "permission denied" for the first.
 */
async function checkSequenceAccess(capture: Capture, rows: SequenceRow[]): Promise<void> {
  const denied = await capture.query<{ name: string; role: string }>(
    `SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS name, CURRENT_USER AS role
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid IN (${rows.map((r) => r.oid).join(',')})
        AND NOT (pg_catalog.has_sequence_privilege(c.oid, 'SELECT') AND pg_catalog.has_schema_privilege(n.oid, 'USAGE'))
      ORDER BY 1`,
  );
  if (denied.length === 0) return;
  throw new SourceAccessError(
    `Role "${denied[0]!.role}" cannot read the state of sequence ${listNames(
      denied.map((d) => d.name),
      10,
    )}, so nothing was exported: ` +
      `grant it SELECT on them and USAGE on their schemas (GRANT SELECT ON SEQUENCE … TO ${quoteIdentLikeServer(denied[0]!.role)}), or back up as their owner.`,
  );
}
