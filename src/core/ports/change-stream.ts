// A source's logical change stream: a replication slot and the committed transactions decoded
// from it (FORMAT.md, "Point-in-time recovery"). The adapter is
// `src/adapters/postgres/logical-stream.ts`; the core never imports `pg`.

/**
 * One column of a decoded row: name and type as SQL text (quoted where needed), the value as its
 * type's output text.
 */
export type DecodedColumn = [name: string, type: string, value: string | null];

/**
 * What the stream yields, in commit order, whole transactions only: `B`, then its row changes and
 * messages, then `C`. Relations are quoted qualified names, usable in SQL as they are.
 */
export type ChangeRecord =
  | { k: 'B'; xid: string }
  | { k: 'I'; rel: string; new: DecodedColumn[] }
  /**
   * `old`: the replica identity before the change, absent when it did not change; `toast`:
   * unchanged TOASTed columns left out of `new`.
   */
  | { k: 'U'; rel: string; old?: DecodedColumn[]; new: DecodedColumn[]; toast?: string[] }
  /** `old` null: the table has no replica identity, so the row cannot be found again. */
  | { k: 'D'; rel: string; old: DecodedColumn[] | null }
  | { k: 'T'; rels: string[]; flags: string[] }
  /** A transactional logical message (`pg_logical_emit_message(true, prefix, content)`). */
  | { k: 'M'; prefix: string; content: string }
  /** `xid` 64-bit, decimal; `lsn` the end of the commit record; `time` ISO-8601 UTC with microseconds. */
  | { k: 'C'; xid: string; lsn: string; time: string }
  /**
   * A heartbeat (see `heartbeat`), never inside a transaction: every transaction whose commit
   * record starts before `lsn` came before it, so the slot may be confirmed up to `lsn`.
   */
  | { k: 'H'; lsn: string };

export interface SlotState {
  slot: string;
  plugin: string;
  database: string;
  /** Everything before it is confirmed consumed; decoding resumes there. */
  confirmedLsn: string;
  /** WAL the slot keeps from being recycled, in bytes. */
  retainedBytes: number;
  /** `reserved`, `extended`, `unreserved` or `lost` (pg_replication_slots.wal_status). */
  walStatus: string | null;
  active: boolean;
  /** The server the slot is on, as far as the archiver's role can read it (see SourceIdentity). */
  source: SourceIdentity;
}

/**
 * What tells one source history from another: a chain continues only on the cluster and WAL
 * timeline it was archived from. Each field is absent where the server does not show it to the
 * archiver (a REPLICATION role that is not superuser, a managed service).
 */
export interface SourceIdentity {
  /** The WAL timeline of the current insert position, 8 hex digits (absent on a server in recovery). */
  timeline?: string;
  /** `pg_control_system().system_identifier`, decimal: where the role may execute that function. */
  systemIdentifier?: string;
}

export interface ChangeStream {
  /**
   * Creates the logical slot and returns its consistent point: every transaction committing
   * after it is decoded. Not idempotent: fails when the slot exists (the caller checks first).
   */
  createSlot(slot: string): Promise<{ lsn: string }>;
  /** Drops the slot; `false` when there was none. */
  dropSlot(slot: string): Promise<boolean>;
  /** The slot's state and the identity of the server it is on, or `undefined` when there is no slot. */
  slotState(slot: string): Promise<SlotState | undefined>;
  /**
   * The transactions committed after the slot's confirmed position, up to the WAL flushed when
   * the call starts, without consuming them: a second call yields them again. Memory is bounded
   * (the server keeps the decoded output; records arrive in batches), however large a transaction.
   */
  peek(slot: string): AsyncIterable<ChangeRecord>;
  /**
   * Confirms everything up to `lsn` (a commit's end): the slot will not decode those
   * transactions again and the source may recycle their WAL. Idempotent; an `lsn` at or before
   * the confirmed position changes nothing.
   */
  advance(slot: string, lsn: string): Promise<void>;
  /**
   * Writes a heartbeat into the source's WAL; a later `peek` yields it as an `H` record. It lets
   * an idle database's slot move on, so the server can recycle the WAL other databases write.
   */
  heartbeat(): Promise<void>;
}
