// Sessions on a PostgreSQL-compatible server. The adapter is `src/adapters/postgres/`; the
// core never imports `pg`. Credentials never travel in task payloads: a payload names a
// database by `DatabaseRef`, and the connector resolves it (a URL registered in-process locally,
// a Secrets Manager secret in AWS).

export interface DatabaseRef {
  /** Opaque name of the credentials (never the credentials themselves). */
  credentials: string;
  /** Overrides the database named by the credentials (restore targets, maintenance db). */
  database?: string;
}

/** Whole rows from a `COPY … TO STDOUT`, and where each one ends. */
export interface CopiedRows {
  data: Buffer;
  /** Offset just past each row (past its newline, in text format); one entry per row. */
  rowEnds: Uint32Array;
  /**
   * Lets the adapter reuse `data`'s memory for a later chunk. Call it only once nothing reads
   * `data` any more (compression and hashing done); not calling it is always safe.
   */
  release?: () => void;
}

export interface SqlSession {
  /** Runs one statement. Errors carry PostgreSQL's message; the caller adds context. */
  query<Row = Record<string, any>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /**
   * Streams `COPY … TO STDOUT` as chunks of whole rows, with backpressure: each chunk ends at the
   * first row end at or after `chunkBytes` from its start (a larger row makes a larger chunk), so
   * the cuts depend on the rows alone; binary chunks carry no header or trailer. The rule is
   * `cutIntoChunks` in src/core/copy-format.ts, which the adapter's tests hold it to.
   */
  copyOutChunks(sql: string, chunkBytes: number): AsyncIterable<CopiedRows>;
  /** Runs `COPY … FROM STDIN` with `data` (its parts in order) as its whole input. */
  copyIn(sql: string, data: Uint8Array | Uint8Array[]): Promise<void>;
  /**
   * The warnings the server sent since the last call (`SQLSTATE` code and message), oldest
   * first: a REVOKE that revoked nothing only warns (01006, 01007). Only the latest 100 are kept.
   */
  takeWarnings(): Array<{ code: string; message: string }>;
  /** Closes the session; safe to call twice. */
  close(): Promise<void>;
}

export interface DatabaseConnector {
  /**
   * Opens a session with Tidemark's fixed output settings (UTF8, ISO dates, UTC, full float
   * precision, hex bytea) so COPY text is identical across servers and versions.
   * Throws `DatabaseConnectionError` naming the server and database (never the password).
   */
  connect(ref: DatabaseRef, options?: { applicationName?: string }): Promise<SqlSession>;
  /** `host:port/database` for messages and the catalog; no credentials. */
  describe(ref: DatabaseRef): string;
}
