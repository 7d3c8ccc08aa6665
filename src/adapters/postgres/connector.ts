// Resolves a DatabaseRef to a connection URL and opens sessions, turning driver errors into
// messages that name the server and database and say what to do — never the password.
import pg from 'pg';
import type { DatabaseConnector, DatabaseRef, SqlSession } from '#core/ports/database.ts';
import { DatabaseConnectionError, DatabaseMissingError, UsageError, redactSecrets } from '#core/errors.ts';
import { PgSession, startupOptions } from './session.ts';

/** Where connection URLs come from: an in-process registry locally, Secrets Manager in AWS. */
export interface CredentialSource {
  /** The connection URL for `name`; throws when unknown. */
  urlFor(name: string): Promise<string>;
  /** Same, without network access, for messages; may return undefined. */
  peek(name: string): string | undefined;
  /** Drops a cached URL, so the next urlFor reads it again (a rotated password). */
  forget?(name: string): void;
}

export class PostgresConnector implements DatabaseConnector {
  constructor(private readonly credentials: CredentialSource) {}

  describe(ref: DatabaseRef): string {
    const url = this.credentials.peek(ref.credentials);
    if (!url) return ref.database ? `${ref.credentials}/${ref.database}` : ref.credentials;
    return describeUrl(url, ref.database);
  }

  async connect(ref: DatabaseRef, options: { applicationName?: string } = {}): Promise<SqlSession> {
    try {
      return await this.open(ref, options);
    } catch (err) {
      // A rejected password may have been rotated since it was cached: read it once more.
      const rejected = (err as { cause?: { code?: string } }).cause?.code === '28P01';
      if (!rejected || !this.credentials.forget) throw err;
      this.credentials.forget(ref.credentials);
      return this.open(ref, options);
    }
  }

  private async open(ref: DatabaseRef, options: { applicationName?: string }): Promise<SqlSession> {
    const url = await this.credentials.urlFor(ref.credentials);
    const config = parseUrl(url);
    if (ref.database) config.database = ref.database;
    const where = describeUrl(url, ref.database);
    const client = new pg.Client({
      ...config,
      application_name: options.applicationName ?? 'tidemark',
      options: startupOptions(),
      keepAlive: true,
    });
    // An idle session's socket error must not crash the process; the next query reports it.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw connectionError(err, where, config.user ?? '', config.database ?? '', (config.connectionTimeoutMillis ?? 0) / 1000);
    }
    return new PgSession(client);
  }
}

const DEFAULT_CONNECT_TIMEOUT_SECONDS = 15;

/**
 * How long a connection attempt may take, in seconds, from where libpq reads it: the URL's
 * `connect_timeout`, else $PGCONNECT_TIMEOUT; 0 or less waits forever, as in libpq. A silent
 * host (a dropped SYN, a proxy that never answers) fails after this long instead of hanging a run.
 */
function connectTimeoutSeconds(url: URL): number {
  const fromUrl = url.searchParams.get('connect_timeout') || undefined;
  const text = fromUrl ?? (process.env.PGCONNECT_TIMEOUT || undefined);
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_SECONDS;
  const seconds = Number(text);
  if (!Number.isInteger(seconds)) {
    throw new UsageError(`connect_timeout ${JSON.stringify(text)} (${fromUrl !== undefined ? 'in the URL' : 'from PGCONNECT_TIMEOUT'}) is not a whole number of seconds.`);
  }
  return Math.max(0, seconds);
}

function parseUrl(url: string): pg.ClientConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`"${redactSecrets(url)}" is not a PostgreSQL URL. Use postgres://user:password@host:port/database.`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(`"${redactSecrets(url)}" is not a PostgreSQL URL (scheme ${parsed.protocol}). Use postgres://user:password@host:port/database.`);
  }
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(parsed.hostname) || 'localhost',
    port: parsed.port ? Number(parsed.port) : 5432,
    user: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
    ssl: sslmode && sslmode !== 'disable' ? { rejectUnauthorized: sslmode === 'verify-full' } : undefined,
    connectionTimeoutMillis: connectTimeoutSeconds(parsed) * 1000,
  };
}

export function describeUrl(url: string, database?: string): string {
  try {
    const p = new URL(url);
    const db = database ?? (decodeURIComponent(p.pathname.replace(/^\//, '')) || decodeURIComponent(p.username) || 'postgres');
    return `${p.hostname || 'localhost'}:${p.port || 5432}/${db}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The URL with its password removed (userinfo and a `password` parameter): it is stored in the repository. */
export function withoutPassword(url: string): string {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new UsageError(`"${redactSecrets(url)}" is not a PostgreSQL URL. Use postgres://user:password@host:port/database.`);
  }
  parsed.password = '';
  parsed.searchParams.delete('password');
  return parsed.toString();
}

function connectionError(err: unknown, where: string, user: string, database: string, timeoutSeconds: number): DatabaseConnectionError {
  const e = err as { code?: string; message?: string };
  const detail = redactSecrets(e.message ?? String(err));
  // pg's own timer: the server accepted the connection (or nothing answered) but never finished the handshake.
  if (!e.code && /connection timeout|timeout expired/i.test(detail)) {
    return new DatabaseConnectionError(
      `Cannot reach PostgreSQL at ${where}: no answer within ${timeoutSeconds} s. Check the host and port, and the network path (VPC, security group, firewall, proxy); connect_timeout in the URL or PGCONNECT_TIMEOUT sets the limit.`,
      { cause: err },
    );
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new DatabaseConnectionError(`Cannot reach PostgreSQL at ${where}: connection refused. Check the host and port, and that the server is running.`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseConnectionError(`Cannot reach PostgreSQL at ${where}: the host name does not resolve. Check the host in the URL.`, { cause: err });
    case 'ETIMEDOUT':
      return new DatabaseConnectionError(`Cannot reach PostgreSQL at ${where}: the connection timed out. Check the network path (VPC, security group, firewall).`, { cause: err });
    case '28P01':
    case '28000':
      return new DatabaseConnectionError(`PostgreSQL at ${where} rejected the credentials of user "${user}" (${detail}). Check the user name and password.`, { cause: err });
    case '3D000':
      return new DatabaseMissingError(`Database missing at ${where}: ${detail}. Check the database name in the URL.`, database, { cause: err });
    default:
      return new DatabaseConnectionError(`Cannot connect to PostgreSQL at ${where}: ${detail}.`, { cause: err });
  }
}
