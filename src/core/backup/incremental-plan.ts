// Which tables of a collection backup are read against the parent backup (FORMAT.md,
// "Incremental backups"), and which are exported whole.
import type { Manifest, ManifestTable } from '../repository/manifest.ts';
import type { TableData } from '../schema/model.ts';
import type { TableFacts } from './table-facts.ts';
import { isYugabyte } from '../sql.ts';

/** A table is exported whole again once its changes pile up, so restores stay short. */
export const MAX_LAYERS = 8;

/**
 * Transaction ids are compared modulo 2^32 (a row's xmin is 32 bits): valid while fewer than
 * 2^31 transactions separate the parent's snapshot from this one. Well before that, the backup
 * is full.
 */
const MAX_XID_DISTANCE = 2n ** 31n - 2n ** 26n;

/**
 * Transaction ids mean something only on the server (cluster) that assigned them: the parent
 * must come from the same cluster — same system identifier where both are known (reading it
 * needs pg_control_system(), which managed services may not grant), same database — and
 * transaction ids must not have gone backwards. YugabyteDB's xmin is not PostgreSQL's.
 */
export interface SourcePoint {
  snapshotXmax: string;
  systemIdentifier: string;
  database: string;
  serverVersion: string;
  /** WAL timeline (8 hex digits), when known: a point-in-time recovery or promotion starts a new one. */
  timeline?: string;
  lsn: string | null;
}

export function parentUsable(parent: Manifest, current: SourcePoint): boolean {
  if (!parent.snapshot.xmin || isYugabyte(current.serverVersion)) return false;
  if (parent.source.database !== current.database) return false;
  if (
    parent.source.systemIdentifier &&
    current.systemIdentifier &&
    parent.source.systemIdentifier !== current.systemIdentifier
  )
    return false;
  // A point-in-time recovery keeps the system identifier but reuses transaction ids on a new
  // timeline; the WAL position of one history only moves forward.
  if (parent.source.timeline && current.timeline && parent.source.timeline !== current.timeline) return false;
  if (parent.snapshot.lsn && current.lsn && lsnValue(current.lsn) < lsnValue(parent.snapshot.lsn)) return false;
  const distance = BigInt(current.snapshotXmax) - BigInt(parent.snapshot.xmin);
  return distance >= 0n && distance < MAX_XID_DISTANCE;
}

function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** The parent's entry for `table` when it can be the base of this backup's entry, else undefined. */
export function parentTableFor(
  parent: Manifest | undefined,
  table: TableData,
  facts: TableFacts,
  format: string,
): ManifestTable | undefined {
  const entry = parent?.tables.find((t) => t.schema === table.schema && t.name === table.name);
  if (!entry || entry.format !== format || entry.rowType !== facts.rowType) return undefined;
  // Same name and columns is not the same table: renamed tables, a column dropped and added
  // again, a renamed enum label all change what the old rows mean without a new xmin.
  if (!entry.identity || entry.identity !== facts.identity) return undefined;
  if (entry.columns.join('\0') !== table.columns.join('\0')) return undefined;
  // A keyed table needs the parent's key index on the same column; a keyless one is only ever
  // kept whole, so it has neither.
  if ((entry.keyIndex?.column ?? null) !== facts.key) return undefined;
  const layers = entry.layers ?? [];
  if (layers.length >= MAX_LAYERS) return undefined;
  if (layers.reduce((s, l) => s + l.bytes, 0) > entry.bytes) return undefined;
  return entry;
}

/**
 * SQL condition true for rows written (inserted or updated) by a transaction that the parent's
 * snapshot did not see: xmin at or after the parent snapshot's xmin. Transactions between that
 * xmin and the snapshot's xmax that had committed count as changes too: a few rows more, never
 * fewer.
 *
 * Compared as ages (int32 distances back from the transaction's own "now", the same for every
 * statement of the export transaction), which handles the 2^32 wraparound without converting
 * each row's xmin to text and back (that cost ~0.2 s of server CPU per million rows). The plan
 * keeps the parent within 2^31 - 2^26 transactions of now. A frozen row whose raw xmin lies more
 * than 2^31 in the past reads as changed: exported again, never lost. Count and export of a
 * table use this same condition in one transaction, so they agree.
 */
export function changedSince(parentXmin: string, xmin = 'xmin'): string {
  const low = BigInt(parentXmin) & 0xffffffffn;
  return `pg_catalog.age(${xmin}) <= (SELECT pg_catalog.age('${low}'::pg_catalog.xid))`;
}
