// Subscriptions, as pg_dump writes them: CREATE SUBSCRIPTION … WITH (connect = false, slot_name = …)
// after the data, so a restore neither connects to the publisher nor creates a slot, and the
// subscription is created disabled. Its connection string loses its password (conninfo.ts): a
// secret never reaches the manifest. A warning (shown by the backup and again by every restore of
// it) names each subscription and what to run to use it again. Reading the connection string
// needs a superuser (PostgreSQL revokes it from others): without one, the warning says so.
import { ownerStatement } from './acl.ts';
import { conninfoWithoutSecrets } from './conninfo.ts';
import { Capture, notExtensionMember, Wave } from './context.ts';
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';

export interface SubscriptionRow {
  oid: number;
  ident: string;
  owner: string;
  conninfo: string | null;
  slot: string | null;
  publications: string[];
  sync_commit: string;
  enabled: boolean;
  binary: boolean;
  /** `f`, `t` or `p` (16+; 14–15 a boolean, read as `t`/`f`); '' before 14, which has no such option. */
  streaming: string;
  two_phase: boolean;
  disable_on_error: boolean;
  origin: string;
  password_required: boolean;
  run_as_owner: boolean;
  failover: boolean;
  comment: string | null;
}

export async function captureSubscriptions(capture: Capture): Promise<void> {
  const v = capture.version;
  const col = (since: number, expr: string, otherwise: string) => (v >= since ? expr : otherwise);
  // Naming the column at all needs the privilege, even where no row is read.
  const [access] = await capture.query<{ conninfo: boolean }>(
    `SELECT pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT') AS conninfo`,
  );
  const rows = await capture.query<SubscriptionRow>(`
    SELECT s.oid, pg_catalog.quote_ident(s.subname) AS ident, pg_catalog.pg_get_userbyid(s.subowner) AS owner,
      ${access!.conninfo ? 's.subconninfo' : 'NULL::pg_catalog.text'} AS conninfo,
      s.subslotname AS slot, s.subpublications AS publications, s.subsynccommit AS sync_commit, s.subenabled AS enabled,
      ${col(140000, 's.subbinary', 'false')} AS binary,
      ${col(160000, 's.substream::pg_catalog.text', col(140000, "CASE WHEN s.substream THEN 't' ELSE 'f' END", "''"))} AS streaming,
      ${col(150000, "s.subtwophasestate <> 'd'", 'false')} AS two_phase,
      ${col(150000, 's.subdisableonerr', 'false')} AS disable_on_error,
      ${col(160000, 's.suborigin', "'any'")} AS origin,
      ${col(160000, 's.subpasswordrequired', 'true')} AS password_required,
      ${col(160000, 's.subrunasowner', 'false')} AS run_as_owner,
      ${col(170000, 's.subfailover', 'false')} AS failover,
      pg_catalog.obj_description(s.oid, 'pg_subscription') AS comment
    FROM pg_catalog.pg_subscription s
    WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
      AND ${notExtensionMember('pg_subscription', 's.oid')}
    ORDER BY 2`);
  for (const row of rows) {
    const object = `subscription ${row.ident}`;
    const conninfo = row.conninfo === null ? undefined : conninfoWithoutSecrets(row.conninfo);
    capture.addPost(Wave.dependents, { object, kind: 'subscription', sql: subscriptionSql(row, conninfo ?? '') });
    capture.addPost(Wave.finishing, ownerStatement(`SUBSCRIPTION ${row.ident}`, object, row.owner));
    // With the rest of the subscription (comments.ts knows only captured objects' targets).
    if (row.comment !== null)
      capture.addPost(Wave.finishing, {
        object,
        kind: 'comment',
        sql: `COMMENT ON SUBSCRIPTION ${row.ident} IS ${quoteLiteral(row.comment)}`,
      });
    const connection =
      row.conninfo === null
        ? 'its connection string was not backed up (only a superuser may read it)'
        : conninfo === undefined
          ? 'its connection string did not parse and was not backed up'
          : conninfo === row.conninfo.trim()
            ? 'its connection string is as at the source'
            : 'its connection string was backed up without its password';
    capture.warnings.push(
      `${object} is restored disabled and without a replication slot, as pg_dump does (it was ${row.enabled ? 'enabled' : 'disabled'} at the source); ${connection}. ` +
        `To use it: ALTER SUBSCRIPTION ${row.ident} CONNECTION '…' (with its password), create or name its slot, then ALTER SUBSCRIPTION ${row.ident} ENABLE`,
    );
  }
}

export function subscriptionSql(row: SubscriptionRow, conninfo: string): string {
  const options = ['connect = false', `slot_name = ${row.slot === null ? 'NONE' : quoteLiteral(row.slot)}`];
  if (row.binary) options.push('binary = true');
  // Written when off too: PostgreSQL 18's default is parallel.
  if (row.streaming === 'f') options.push('streaming = off');
  if (row.streaming === 't') options.push('streaming = on');
  if (row.streaming === 'p') options.push('streaming = parallel');
  if (row.two_phase) options.push('two_phase = on');
  if (row.disable_on_error) options.push('disable_on_error = true');
  if (row.origin !== 'any') options.push(`origin = ${row.origin}`);
  if (!row.password_required) options.push('password_required = false');
  if (row.run_as_owner) options.push('run_as_owner = true');
  if (row.failover) options.push('failover = true');
  if (row.sync_commit !== 'off') options.push(`synchronous_commit = ${quoteLiteral(row.sync_commit)}`);
  const publications = row.publications.map(quoteIdentLikeServer).join(', ');
  return `CREATE SUBSCRIPTION ${row.ident} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${publications} WITH (${options.join(', ')})`;
}
