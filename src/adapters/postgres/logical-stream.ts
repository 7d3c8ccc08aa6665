// ChangeStream over SQL: a logical slot with the `test_decoding` plugin, read with
// pg_logical_slot_peek_changes through a cursor and confirmed with pg_replication_slot_advance
// (FORMAT.md, "Point-in-time recovery": why test_decoding, why peek then advance).
import type { ChangeRecord, ChangeStream, SlotState } from '#core/ports/change-stream.ts';
import type { SqlSession } from '#core/ports/database.ts';
import { IntegrityError, TransientError } from '#core/errors.ts';
import { DecodingParseError, HEARTBEAT_PREFIX, parseDecodedLine } from './logical-text.ts';

export const DECODING_PLUGIN = 'test_decoding';
/** Rows per FETCH: the records in memory at once, whatever the size of a transaction. */
const FETCH_ROWS = 2000;
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;
const SLOT = /^[a-z0-9_]{1,63}$/;
/** How long a dead reader's session may keep the slot before we call it a live one. */
const SLOT_WAIT_MS = 30_000;

/** Another session reads the slot; retry later (the ASL may retry on it). */
export class SlotInUseError extends TransientError {}

export class LogicalSlotStream implements ChangeStream {
  /** `session` is this stream's own: peek holds a transaction open on it while it yields. */
  constructor(private readonly session: SqlSession) {}

  async createSlot(slot: string): Promise<{ lsn: string }> {
    const [row] = await this.session.query<{ lsn: string }>(
      'SELECT lsn::text AS lsn FROM pg_catalog.pg_create_logical_replication_slot($1, $2)',
      [checkSlot(slot), DECODING_PLUGIN],
    );
    return { lsn: row!.lsn };
  }

  async dropSlot(slot: string): Promise<boolean> {
    const rows = await this.session.query(
      'SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [checkSlot(slot)],
    );
    return rows.length > 0;
  }

  async slotState(slot: string): Promise<SlotState | undefined> {
    const [row] = await this.session.query<{
      plugin: string;
      database: string;
      confirmed: string;
      retained: string | null;
      wal_status: string | null;
      active: boolean;
      timeline: string | null;
      sysid: string | null;
    }>(
      // The timeline of the insert position, from its WAL file name (both functions are PUBLIC):
      // pg_control_checkpoint()'s is the last checkpoint's, which lags a promotion. The
      // pg_control_* functions are PUBLIC in PostgreSQL but may be revoked on a managed service.
      `SELECT plugin, database, confirmed_flush_lsn::text AS confirmed, active,
              pg_catalog.pg_wal_lsn_diff(
                CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
                restart_lsn)::bigint::text AS retained,
              wal_status,
              CASE WHEN NOT pg_catalog.pg_is_in_recovery()
                   THEN pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8) END AS timeline,
              CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
                   THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system()) END AS sysid
         FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`,
      [checkSlot(slot)],
    );
    if (!row) return undefined;
    return {
      slot,
      plugin: row.plugin,
      database: row.database,
      confirmedLsn: row.confirmed,
      retainedBytes: Number(row.retained ?? 0),
      walStatus: row.wal_status,
      active: row.active,
      source: {
        ...(row.timeline ? { timeline: row.timeline.toUpperCase() } : {}),
        ...(row.sysid ? { systemIdentifier: row.sysid } : {}),
      },
    };
  }

  async *peek(slot: string): AsyncIterable<ChangeRecord> {
    const s = this.session;
    await this.awaitSlotFree(slot);
    // Read committed, so that the query for the next xid below sees the xids of what was decoded.
    await s.query('BEGIN ISOLATION LEVEL READ COMMITTED');
    let ok = false;
    try {
      let fullXid: ((xid32: string) => string) | undefined;
      // The function materialises its whole output server-side (spilling to disk past
      // work_mem); the cursor hands it over in batches.
      await s.query(
        `DECLARE tidemark_changes NO SCROLL CURSOR FOR
           SELECT lsn::text AS lsn, data FROM pg_catalog.pg_logical_slot_peek_changes('${checkSlot(slot)}', NULL, NULL,
             'include-xids', '1', 'include-timestamp', '1', 'skip-empty-xacts', '0')`,
      );
      for (;;) {
        const rows = await s.query<{ lsn: string; data: string }>(`FETCH ${FETCH_ROWS} FROM tidemark_changes`);
        if (!fullXid) {
          // Decoded xids are 32 bits. The first FETCH decoded everything this call returns, so
          // each of those xids is below the next xid read now (read committed: a new snapshot),
          // which gives the epoch.
          const [next] = await s.query<{ xmax: string }>(
            'SELECT pg_catalog.txid_snapshot_xmax(pg_catalog.txid_current_snapshot())::text AS xmax',
          );
          fullXid = widenXid(BigInt(next!.xmax));
        }
        for (const row of rows) {
          let record: ChangeRecord | undefined;
          try {
            record = parseDecodedLine(row.data, fullXid);
          } catch (err) {
            if (!(err instanceof DecodingParseError)) throw err;
            throw new IntegrityError(
              `Slot ${slot}: the change at ${row.lsn} could not be read (${err.message}). This is a bug in Tidemark's decoding of ${DECODING_PLUGIN} output; report it with that line.`,
            );
          }
          if (record?.k === 'C' || record?.k === 'H') record.lsn = row.lsn;
          if (record) yield record;
        }
        if (rows.length < FETCH_ROWS) break;
      }
      ok = true;
    } finally {
      await s.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => {});
    }
  }

  async advance(slot: string, lsn: string): Promise<void> {
    if (!LSN.test(lsn))
      throw new IntegrityError(
        `Refusing to advance slot ${slot} to "${lsn}": not an LSN. This is a bug in the caller.`,
      );
    const [state] = await this.session.query<{ behind: boolean }>(
      'SELECT confirmed_flush_lsn < $2::pg_lsn AS behind FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
      [checkSlot(slot), lsn],
    );
    if (state?.behind) {
      await this.awaitSlotFree(slot);
      await this.session.query('SELECT pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)', [slot, lsn]);
    }
  }

  async heartbeat(): Promise<void> {
    await this.session.query('SELECT pg_catalog.pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
  }

  /**
   * A slot serves one session at a time. When an archiver dies in the middle of a read, its
   * server session holds the slot until the server notices the client is gone: wait for that,
   * briefly; a slot still held after that belongs to a live reader.
   */
  private async awaitSlotFree(slot: string): Promise<void> {
    const deadline = Date.now() + SLOT_WAIT_MS;
    for (;;) {
      const [row] = await this.session.query<{ pid: number | null }>(
        'SELECT active_pid AS pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      if (!row?.pid) return;
      if (Date.now() >= deadline) {
        throw new SlotInUseError(
          `Slot ${slot} is in use by server process ${row.pid}: another \`tidemark pitr archive\` of this collection is running, or something else reads the slot. ` +
            'Only one archiver runs per slot; retry when it has finished.',
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function checkSlot(slot: string): string {
  if (!SLOT.test(slot))
    throw new IntegrityError(
      `"${slot}" is not a Tidemark slot name (lower-case letters, digits, _). This is a bug in the caller.`,
    );
  return slot;
}

/** The 64-bit txid of a 32-bit xid decoded before `next` (the next txid to be assigned). */
export function widenXid(next: bigint): (xid32: string) => string {
  return (xid32) => {
    let full = (next & ~0xffffffffn) | BigInt(xid32);
    if (full >= next) full -= 0x100000000n;
    if (full < 0n)
      throw new IntegrityError(
        `Decoded transaction ${xid32} is not below the next transaction id ${next}: its epoch cannot be told. This is a bug in Tidemark's decoding.`,
      );
    return full.toString();
  };
}
