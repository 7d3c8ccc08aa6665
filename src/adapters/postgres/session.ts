// SqlSession over node-postgres and pg-copy-streams.
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { fastCopyToChunks } from './copy-out.ts';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type { CopiedRows, SqlSession } from '#core/ports/database.ts';
import { SqlError, TransientError, redactSecrets } from '#core/errors.ts';

/** SQLSTATEs and socket errors worth retrying: connection loss, shutdown, overload, conflicts. */
const TRANSIENT = /^(08...|57P0[123]|53300|40001|40P01|ECONNRESET|EPIPE|ETIMEDOUT)$/;

/** Gives driver errors a name the ASL can match and a message without secrets. */
export function classify(err: unknown): Error {
  const e = err as { code?: string; message?: string };
  const message = redactSecrets(e.message ?? String(err));
  if (e.code && TRANSIENT.test(e.code))
    return new TransientError(`${message} (SQLSTATE ${e.code}; retryable)`, { cause: err });
  if (e.code === '42501' && /would be affected by row-level security/.test(message)) {
    return new SqlError(
      `${message}: the connecting role would see only the rows its policies allow, so Tidemark stops rather than save or check a part of the table. ` +
        'Connect as a superuser, a role with BYPASSRLS, or the table owner (for tables without FORCE ROW LEVEL SECURITY).',
      e.code,
      { cause: err },
    );
  }
  return new SqlError(message, e.code, { cause: err });
}

/**
 * Output settings fixed for every session, so that COPY text (and the content checksums over
 * it) is byte-identical whatever the server's or role's defaults are.
 */
export const SESSION_SETTINGS: Record<string, string> = {
  client_encoding: 'UTF8',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  TimeZone: 'UTC',
  extra_float_digits: '3',
  bytea_output: 'hex',
  standard_conforming_strings: 'on',
  // Long-running COPYs must not be cut by a role's statement_timeout.
  statement_timeout: '0',
  lock_timeout: '0',
  idle_in_transaction_session_timeout: '0',
  // Warnings reach us whatever the role or database sets: a GRANT or REVOKE that did nothing
  // only warns (schema/apply.ts turns it into a restore warning).
  client_min_messages: 'warning',
};

export function startupOptions(): string {
  return Object.entries(SESSION_SETTINGS)
    .map(([k, v]) => `-c ${k}=${v.replace(/ /g, '\\ ')}`)
    .join(' ');
}

export class PgSession implements SqlSession {
  private closed = false;
  private warnings: Array<{ code: string; message: string }> = [];
  constructor(private readonly client: pg.Client) {
    client.on('notice', (notice) => {
      // Class 01 is "warning"; notices and the like are not kept.
      if (!notice.code?.startsWith('01')) return;
      this.warnings.push({ code: notice.code, message: redactSecrets(notice.message ?? '') });
      if (this.warnings.length > 100) this.warnings.shift();
    });
  }

  takeWarnings(): Array<{ code: string; message: string }> {
    const taken = this.warnings;
    this.warnings = [];
    return taken;
  }

  async query<Row = Record<string, any>>(sql: string, params?: unknown[]): Promise<Row[]> {
    const result = await this.client.query(sql, params as unknown[] | undefined).catch((err) => {
      throw classify(err);
    });
    // A multi-statement text returns one result per statement; callers want the last.
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return (last?.rows ?? []) as Row[];
  }

  async *copyOutChunks(sql: string, chunkBytes: number): AsyncIterable<CopiedRows> {
    try {
      yield* this.client.query(fastCopyToChunks(sql, chunkBytes));
    } catch (err) {
      throw classify(err);
    }
  }

  async copyIn(sql: string, data: Uint8Array | Uint8Array[]): Promise<void> {
    const sink = this.client.query(copyFrom(sql));
    await pipeline(Readable.from(Array.isArray(data) ? data : [data]), sink).catch((err) => {
      throw classify(err);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }
}
