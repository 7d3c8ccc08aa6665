// Preflight of `pitr enable`: every reason the source cannot have an exact change archive, each
// with the statement that fixes it, found before anything is changed (issue 13, item 1).
import type { SqlSession } from '../ports/database.ts';
import { quoteIdent, quoteLiteral } from '../sql.ts';
import type { PitrNames } from './names.ts';
import { notArchived } from './undecoded.ts';

export interface PreflightResult {
  /** Each one blocks enable: what is wrong, and the statement that fixes it; `table` for a table without a replica identity. */
  problems: { what: string; fix: string; table?: string }[];
  /** Risks that do not block (WAL retention). */
  warnings: string[];
}

export async function preflight(session: SqlSession, names: PitrNames): Promise<PreflightResult> {
  const problems: PreflightResult['problems'] = [];
  const warnings: string[] = [];
  const [s] = await session.query<{
    wal_level: string;
    user: string;
    replication: boolean;
    superuser: boolean;
    rds_replication: boolean;
    rds_superuser: boolean;
    max_slots: number;
    slots: number;
    ours: boolean;
    keep: string;
    keep_mb: number;
  }>(
    `SELECT pg_catalog.current_setting('wal_level') AS wal_level, current_user AS user,
            r.rolreplication AS replication, r.rolsuper AS superuser,
            EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication' AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_replication,
            EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_superuser' AND pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')) AS rds_superuser,
            pg_catalog.current_setting('max_replication_slots')::int AS max_slots,
            (SELECT pg_catalog.count(*) FROM pg_catalog.pg_replication_slots)::int AS slots,
            EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1) AS ours,
            pg_catalog.current_setting('max_slot_wal_keep_size') AS keep,
            (SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size') AS keep_mb
       FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
    [names.slot],
  );
  if (s!.wal_level !== 'logical') {
    problems.push({
      what: `wal_level is ${s!.wal_level}, logical decoding needs logical`,
      fix: 'ALTER SYSTEM SET wal_level = logical; then restart the server (RDS/Aurora: set rds.logical_replication = 1 in the parameter group and reboot)',
    });
  }
  if (!s!.replication && !s!.superuser && !s!.rds_replication) {
    problems.push({
      what: `role ${s!.user} may not use replication slots`,
      fix: `ALTER ROLE ${quoteIdent(s!.user)} REPLICATION; (RDS/Aurora: GRANT rds_replication TO ${quoteIdent(s!.user)};)`,
    });
  }
  if (!s!.superuser && !s!.rds_superuser) {
    problems.push({
      what: `role ${s!.user} may not create the event trigger that captures DDL (it needs a superuser)`,
      fix: `run pitr enable as a superuser (RDS/Aurora: a member of rds_superuser, e.g. GRANT rds_superuser TO ${quoteIdent(s!.user)};)`,
    });
  }
  if (s!.ours) {
    problems.push({
      what: `slot ${names.slot} exists already: point-in-time recovery is enabled, or a failed enable left it`,
      fix: `tidemark pitr status shows it; tidemark pitr disable removes it (SELECT pg_drop_replication_slot(${quoteLiteral(names.slot)});)`,
    });
  } else if (s!.slots >= s!.max_slots) {
    problems.push({
      what: `all ${s!.max_slots} replication slots are in use`,
      fix: 'ALTER SYSTEM SET max_replication_slots = <more>; then restart, or drop an unused slot: SELECT pg_drop_replication_slot(<name>);',
    });
  }
  if (s!.keep_mb < 0) {
    warnings.push(
      'max_slot_wal_keep_size is unlimited (-1): if archiving stops, the slot keeps WAL until the disk fills. Watch the retained WAL that pitr status shows, or set a limit (a slot past it is lost: a gap).',
    );
  } else {
    warnings.push(
      `max_slot_wal_keep_size is ${s!.keep}: if archiving falls that far behind, the slot is lost and the archive has a gap.`,
    );
  }
  warnings.push(...(await notArchivedWarnings(session)));
  for (const t of await unreplayableTables(session)) {
    problems.push({
      table: t.name,
      what: `table ${t.name} has ${t.identity === 'n' ? 'REPLICA IDENTITY NOTHING' : 'no primary key and no replica identity index'}: its updates and deletes cannot be replayed exactly`,
      fix: `ALTER TABLE ${t.name} ADD PRIMARY KEY (…); or ALTER TABLE ${t.name} REPLICA IDENTITY FULL;`,
    });
  }
  return { problems, warnings };
}

/**
 * What the change archive cannot carry, said before it is enabled (a restore to a point says it
 * again, by object: undecoded.ts): unlogged tables write no WAL; large objects are not decoded.
 */
async function notArchivedWarnings(session: SqlSession): Promise<string[]> {
  const { unlogged, largeObjects } = await notArchived(session);
  const warnings: string[] = [];
  if (unlogged.length)
    warnings.push(
      `unlogged tables ${unlogged.join(', ')} write no WAL, so their changes are not archived: a restore to a point gives their rows as of the backup it starts from (ALTER TABLE … SET LOGGED archives them).`,
    );
  if (largeObjects)
    warnings.push(
      `the ${largeObjects} large objects are not archived (logical decoding does not carry lo_* writes): a restore to a point gives them as of the backup it starts from.`,
    );
  return warnings;
}

/** Tables (partitions too) whose changes cannot be replayed: no key to find a row again by. */
export async function unreplayableTables(session: SqlSession): Promise<{ name: string; identity: string }[]> {
  return session.query<{ name: string; identity: string }>(
    `SELECT c.oid::pg_catalog.regclass::text AS name, c.relreplident::text AS identity
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND c.relpersistence = 'p'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')
        AND (c.relreplident = 'n'
             OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary))
             OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisreplident)))
      ORDER BY 1`,
  );
}
