// Resolves a DatabaseRef to a connection URL and opens sessions, turning driver errors into
// messages that name the server, the database and the TLS in force, and say what to do — never
// the password. The URL is read as pg reads it (connection-url.ts); TLS as libpq reads it (tls.ts).
import pg from 'pg';
import type { DatabaseConnector, DatabaseRef, SqlSession } from '#core/ports/database.ts';
import { DatabaseConnectionError, DatabaseMissingError, UsageError, redactSecrets } from '#core/errors.ts';
import { PgSession, startupOptions } from './session.ts';
import { connectionFields, describeUrl } from './connection-url.ts';
import { describeTls, isNoTlsAnswer, planTls, tlsRefusal, type TlsDefaults, type TlsPlan } from './tls.ts';

export { describeUrl, withoutPassword } from './connection-url.ts';

/** Where connection URLs come from: an in-process registry locally, Secrets Manager in AWS. */
export interface CredentialSource {
  /** The connection URL for `name`; throws when unknown. */
  urlFor(name: string): Promise<string>;
  /** Same, without network access, for messages; may return undefined. */
  peek(name: string): string | undefined;
  /** Drops a cached URL, so the next urlFor reads it again (a rotated password). */
  forget?(name: string): void;
  /** TLS for URLs that name no sslmode / sslrootcert (and no PGSSLMODE / PGSSLROOTCERT); libpq's defaults otherwise. */
  readonly tlsDefaults?: TlsDefaults;
}

interface Target {
  config: pg.ClientConfig;
  tls: TlsPlan;
  /** `host:port/db`, what `describe` says. */
  identity: string;
}

export interface ConnectorOptions {
  /**
   * Told of every session opened, as `host:port/db (TLS verify-full)` or `(no TLS …)`: the
   * Lambda context logs it, so the logs say which TLS mode was in force for each connection.
   */
  onConnected?: (where: string) => void;
}

export class PostgresConnector implements DatabaseConnector {
  constructor(
    private readonly credentials: CredentialSource,
    private readonly options: ConnectorOptions = {},
  ) {}

  /** `host:port/database`: the catalog's and the manifest's name for a database, so no TLS in it. */
  describe(ref: DatabaseRef): string {
    const url = this.credentials.peek(ref.credentials);
    if (!url) return ref.database ? `${ref.credentials}/${ref.database}` : ref.credentials;
    return describeUrl(url, ref.database);
  }

  /** `host:port/database (TLS verify-full)`: where and how a session connects, for `show` and logs. */
  describeConnection(ref: DatabaseRef): string {
    const url = this.credentials.peek(ref.credentials);
    if (!url) return this.describe(ref);
    try {
      const { identity, tls } = this.target(url, ref.database);
      return `${identity} (${describeTls(tls)})`;
    } catch {
      return this.describe(ref); // a bad sslmode is reported when connecting
    }
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

  private target(url: string, database: string | undefined): Target {
    const config = parseUrl(url);
    if (database) config.database = database;
    const identity = describeUrl(url, database);
    const tls = planTls(connectionFields(url).params, identity, this.credentials.tlsDefaults);
    return { config: { ...config, ssl: tls.ssl }, tls, identity };
  }

  private async open(ref: DatabaseRef, options: { applicationName?: string }): Promise<SqlSession> {
    const { config, tls, identity } = this.target(await this.credentials.urlFor(ref.credentials), ref.database);
    const where = `${identity} (${describeTls(tls)})`;
    try {
      const session = await attempt(config, options);
      this.options.onConnected?.(where);
      return session;
    } catch (err) {
      // prefer / allow: a server without TLS is reached in plain text, as libpq does.
      if (tls.plainFallback && isNoTlsAnswer(err)) {
        try {
          const session = await attempt({ ...config, ssl: false }, options);
          this.options.onConnected?.(`${identity} (no TLS: the server offers none)`);
          return session;
        } catch (plainErr) {
          throw connectionError(plainErr, `${identity} (no TLS: the server offers none)`, config, tls);
        }
      }
      throw connectionError(err, where, config, tls);
    }
  }
}

async function attempt(config: pg.ClientConfig, options: { applicationName?: string }): Promise<SqlSession> {
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
    throw err;
  }
  return new PgSession(client);
}

const DEFAULT_CONNECT_TIMEOUT_SECONDS = 15;

/**
 * How long a connection attempt may take, in seconds, from where libpq reads it: the URL's
 * `connect_timeout`, else $PGCONNECT_TIMEOUT; 0 or less waits forever, as in libpq. A silent
 * host (a dropped SYN, a proxy that never answers) fails after this long instead of hanging a run.
 */
function connectTimeoutSeconds(params: URLSearchParams): number {
  const fromUrl = params.get('connect_timeout') || undefined;
  const text = fromUrl ?? (process.env.PGCONNECT_TIMEOUT || undefined);
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_SECONDS;
  const seconds = Number(text);
  if (!Number.isInteger(seconds)) {
    throw new UsageError(
      `connect_timeout ${JSON.stringify(text)} (${fromUrl !== undefined ? 'in the URL' : 'from PGCONNECT_TIMEOUT'}) is not a whole number of seconds.`,
    );
  }
  return Math.max(0, seconds);
}

function parseUrl(url: string): pg.ClientConfig {
  const f = connectionFields(url);
  return {
    host: f.host,
    port: f.port,
    user: f.user,
    password: f.password,
    database: f.database,
    connectionTimeoutMillis: connectTimeoutSeconds(f.params) * 1000,
  };
}

function connectionError(err: unknown, where: string, config: pg.ClientConfig, tls: TlsPlan): DatabaseConnectionError {
  const e = err as { code?: string; message?: string };
  const detail = redactSecrets(e.message ?? String(err));
  const user = config.user ?? '';
  const timeoutSeconds = (config.connectionTimeoutMillis ?? 0) / 1000;
  const refused = tlsRefusal(err, where, tls);
  if (refused) return refused;
  // pg's own timer: the server accepted the connection (or nothing answered) but never finished the handshake.
  if (!e.code && /connection timeout|timeout expired/i.test(detail)) {
    return new DatabaseConnectionError(
      `Cannot reach PostgreSQL at ${where}: no answer within ${timeoutSeconds} s. Check the host and port, and the network path (VPC, security group, firewall, proxy); connect_timeout in the URL or PGCONNECT_TIMEOUT sets the limit.`,
      { cause: err },
    );
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new DatabaseConnectionError(
        `Cannot reach PostgreSQL at ${where}: connection refused. Check the host and port, and that the server is running.`,
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseConnectionError(
        `Cannot reach PostgreSQL at ${where}: the host name does not resolve. Check the host in the URL.`,
        { cause: err },
      );
    case 'ETIMEDOUT':
      return new DatabaseConnectionError(
        `Cannot reach PostgreSQL at ${where}: the connection timed out. Check the network path (VPC, security group, firewall).`,
        { cause: err },
      );
    case '28P01':
    case '28000':
      return new DatabaseConnectionError(
        `PostgreSQL at ${where} rejected the credentials of user "${user}" (${detail}). Check the user name and password.`,
        { cause: err },
      );
    case '3D000':
      return new DatabaseMissingError(
        `Database missing at ${where}: ${detail}. Check the database name in the URL.`,
        config.database ?? '',
        { cause: err },
      );
    default:
      return new DatabaseConnectionError(`Cannot connect to PostgreSQL at ${where}: ${detail}.`, { cause: err });
  }
}
