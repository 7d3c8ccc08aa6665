// A postgres:// URL split the way pg's own parser (pg-connection-string 2.x) splits it, so what
// Tidemark connects to, describes, stores without the password and redacts is one reading of
// the URL. The split that matters is the WHATWG one: the userinfo runs to the LAST '@' before
// the first '/', '?' or '#', so `postgres://u:pa@ss@host/db` is user u, password "pa@ss", host
// "host" — the password's tail is never taken for a host name.
import { UsageError, redactSecrets } from '#core/errors.ts';

export interface ConnectionFields {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  /** Query parameters (sslmode, sslrootcert, connect_timeout …). */
  params: URLSearchParams;
}

/**
 * pg-connection-string percent-encodes a URL that holds a space or a malformed escape
 * (`%zz`, a lone `%`) before parsing it, so such a password still parses; we do the same.
 */
function asPgReadsIt(url: string): string {
  return / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
}

function parsePostgresUrl(url: string): URL {
  const parsed = URL.canParse(asPgReadsIt(url)) ? new URL(asPgReadsIt(url)) : undefined;
  if (!parsed) {
    throw new UsageError(
      `"${redactUrl(url)}" is not a PostgreSQL URL. Use postgres://user:password@host:port/database (percent-encode '/', '?' and '#' in the password).`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError(
      `"${redactUrl(url)}" is not a PostgreSQL URL (scheme ${parsed.protocol}). Use postgres://user:password@host:port/database.`,
    );
  }
  return parsed;
}

/** Decodes like decodeURIComponent, but keeps a malformed escape as written instead of throwing. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The URL's parts; `user`, `password`, `host` and `port` query parameters win, as in pg. */
export function connectionFields(url: string): ConnectionFields {
  const parsed = parsePostgresUrl(url);
  const params = parsed.searchParams;
  const port = Number(params.get('port') || parsed.port || 5432);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UsageError(
      `"${redactUrl(url)}" has port ${JSON.stringify(params.get('port'))}; use a number between 1 and 65535.`,
    );
  }
  return {
    host: params.get('host') || decode(parsed.hostname).replace(/^\[(.+)\]$/, '$1') || 'localhost',
    port,
    user: params.get('user') || decode(parsed.username) || undefined,
    password: params.get('password') || decode(parsed.password) || undefined,
    database: decode(parsed.pathname.replace(/^\//, '')) || undefined,
    params,
  };
}

/** `host:port/database` for messages and the catalog; no credentials. */
export function describeUrl(url: string, database?: string): string {
  try {
    const f = connectionFields(url);
    return `${f.host.includes(':') ? `[${f.host}]` : f.host}:${f.port}/${database ?? f.database ?? f.user ?? 'postgres'}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The URL with its password removed (userinfo and a `password` parameter): it is stored in the repository. */
export function withoutPassword(url: string): string {
  const parsed = parsePostgresUrl(url);
  parsed.password = '';
  parsed.searchParams.delete('password');
  return parsed.toString();
}

/**
 * A URL quoted whole in a message: everything between `scheme://` and the last '@' of the
 * authority goes, spaces included (pg reads a space as part of the password; free-text
 * redaction cannot).
 */
export function redactUrl(url: string): string {
  const withUserinfo = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i.exec(url);
  if (!withUserinfo) return redactSecrets(url);
  const user = withUserinfo[2]!.split(':')[0];
  const rest = url.slice(withUserinfo[0].length);
  return redactSecrets(`${withUserinfo[1]}${user}${withUserinfo[2]!.includes(':') ? ':***' : ''}@${rest}`);
}
