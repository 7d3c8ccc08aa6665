// TLS for a connection, with libpq's meanings of `sslmode` and `sslrootcert` (and their
// PGSSLMODE / PGSSLROOTCERT fallbacks), turned into the options node-postgres hands to
// tls.connect. pg's own reading of sslmode differs (in pg 8 `require` verifies, and our old code
// turned it into "verify nothing"), so the URL's ssl parameters are read here, not by pg.
//
//   disable      plain text
//   allow/prefer TLS, falling back to plain text only when the server answers it has no TLS.
//                libpq's `allow` tries plain text first; trying TLS first reaches the same
//                servers and encrypts more. Unlike libpq, a certificate that fails a check is
//                never a reason to fall back.
//   require      TLS, certificate unchecked — unless root certificates are at hand (sslrootcert,
//                PGSSLROOTCERT, the credential source's, or ~/.postgresql/root.crt): then, as in
//                libpq, the chain is checked as for verify-ca (prefer and allow likewise)
//   verify-ca    chain checked against the root certificates; host name not checked
//   verify-full  chain and host name checked
//   sslrootcert=system  the platform's trusted CAs; implies verify-full and refuses weaker modes
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { DatabaseConnectionError, UsageError } from '#core/errors.ts';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** CA certificates a credential source trusts when the URL names none (AWS: the Amazon RDS CAs). */
export interface TrustedRoots {
  /** What they are, for messages ("the Amazon RDS CA bundle"). */
  label: string;
  pem: readonly string[];
}

/** What a credential source asks for when neither the URL nor the environment says. */
export interface TlsDefaults {
  sslmode: SslMode;
  roots: TrustedRoots;
}

export interface TlsPlan {
  /** The sslmode asked for: the URL's, else PGSSLMODE, else the source's default, else libpq's `prefer`. */
  mode: SslMode;
  /** What is really checked, which `require` with root certificates makes `ca`. */
  check: 'plain' | 'unverified' | 'ca' | 'full';
  /** pg's `ssl` option: false for plain text. */
  ssl: false | tls.ConnectionOptions;
  /** Connect again in plain text when the server has no TLS (prefer, allow). */
  plainFallback: boolean;
  /** Where the trusted CAs came from, for messages. */
  roots?: string;
}

type Env = Record<string, string | undefined>;

/** The TLS of one connection; `where` (host:port/db) is only for messages. */
export function planTls(
  params: URLSearchParams,
  where: string,
  defaults?: TlsDefaults,
  env: Env = process.env,
): TlsPlan {
  const modeText = params.get('sslmode') || env.PGSSLMODE || undefined;
  if (modeText !== undefined && !(SSL_MODES as readonly string[]).includes(modeText)) {
    const from = params.get('sslmode') ? 'in the URL' : 'from PGSSLMODE';
    throw new UsageError(
      `sslmode ${JSON.stringify(modeText)} (${from}) for ${where} is not one of ${SSL_MODES.join(', ')}.`,
    );
  }
  const rootCert = params.get('sslrootcert') || env.PGSSLROOTCERT || undefined;
  if (rootCert === 'system') {
    // As libpq 16: any publicly trusted CA would do, so only the host name check makes it safe.
    if (modeText !== undefined && modeText !== 'verify-full') {
      throw new UsageError(
        `sslrootcert=system needs sslmode=verify-full (any public CA would pass a weaker check), but sslmode is ${modeText} for ${where}. Use sslmode=verify-full, or name a CA file in sslrootcert.`,
      );
    }
    return verifying('verify-full', 'full', systemRoots(), "the system's trusted CAs");
  }
  const mode = (modeText as SslMode | undefined) ?? defaults?.sslmode ?? 'prefer';
  if (mode === 'disable') return { mode, check: 'plain', ssl: false, plainFallback: false };
  const roots = findRoots(rootCert, defaults?.roots);
  if (mode === 'verify-ca' || mode === 'verify-full') {
    if (!roots.pem) {
      throw new DatabaseConnectionError(
        `Cannot verify PostgreSQL at ${where} (sslmode=${mode}): ${roots.label} does not exist. ` +
          "Name the CA that signed the server's certificate with sslrootcert=/path/to/ca.pem in the URL (or PGSSLROOTCERT), " +
          'use sslrootcert=system for a certificate from a public CA, or use sslmode=require to encrypt without verifying.',
      );
    }
    return verifying(mode, mode === 'verify-full' ? 'full' : 'ca', roots.pem, roots.label);
  }
  const plainFallback = mode === 'prefer' || mode === 'allow';
  if (roots.pem) return { ...verifying(mode, 'ca', roots.pem, roots.label), plainFallback };
  return { mode, check: 'unverified', ssl: { rejectUnauthorized: false }, plainFallback };
}

/** "TLS verify-full", "TLS require, certificate not verified", "no TLS" … for messages and `show`. */
export function describeTls(plan: TlsPlan): string {
  switch (plan.check) {
    case 'plain':
      return 'no TLS';
    case 'full':
      return `TLS ${plan.mode}`;
    case 'ca':
      return plan.mode === 'verify-ca' ? 'TLS verify-ca' : `TLS ${plan.mode}, checked as verify-ca`;
    case 'unverified':
      return `TLS ${plan.mode}, certificate not verified`;
  }
}

function verifying(mode: SslMode, check: 'ca' | 'full', pem: readonly string[] | undefined, label: string): TlsPlan {
  const ssl: tls.ConnectionOptions = { rejectUnauthorized: true, ...(pem ? { ca: [...pem] } : {}) };
  // verify-ca checks the chain only; tls.connect's default checkServerIdentity is the host name check.
  if (check === 'ca') ssl.checkServerIdentity = () => undefined;
  return { mode, check, ssl, plainFallback: false, roots: label };
}

/** Root certificates: sslrootcert / PGSSLROOTCERT, else the source's, else libpq's ~/.postgresql/root.crt. */
function findRoots(
  file: string | undefined,
  fromSource: TrustedRoots | undefined,
): { label: string; pem?: readonly string[] } {
  if (!file && fromSource) return fromSource;
  const path = file ?? join(homedir(), '.postgresql', 'root.crt');
  const label = file ? `sslrootcert file ${path}` : `root certificate file ${path} (libpq's default)`;
  // A named file that is missing leaves require / prefer unverified, as in libpq; verify-* refuse.
  if (!existsSync(path)) return { label: `the ${label}` };
  try {
    return { label, pem: [readFileSync(path, 'utf8')] };
  } catch (err) {
    throw new DatabaseConnectionError(
      `Cannot read the ${label}: ${(err as Error).message}. Make it a readable PEM file of CA certificates.`,
      { cause: err },
    );
  }
}

/**
 * The platform's trusted CAs: Node 22.15+ (the Lambda runtime) reads the system store; older
 * Node has no API for it, and `undefined` makes tls.connect use Node's bundled Mozilla roots.
 */
function systemRoots(): readonly string[] | undefined {
  const get = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return get ? get('system') : undefined;
}

/** Node's codes for a chain that does not lead to a trusted root. */
const UNTRUSTED =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE)$/;

/** A connection error that TLS caused, said so with what to do; undefined for any other error. */
export function tlsRefusal(err: unknown, where: string, plan: TlsPlan): DatabaseConnectionError | undefined {
  const e = err as { code?: string; message?: string };
  const detail = e.message ?? String(err);
  const trusted = plan.roots ?? 'the trusted CAs';
  if (e.code && UNTRUSTED.test(e.code)) {
    return new DatabaseConnectionError(
      `PostgreSQL at ${where} was refused: its certificate is not signed by a CA in ${trusted} (${e.code}: ${detail}). ` +
        "Set sslrootcert in the URL (or PGSSLROOTCERT) to the CA that signed the server's certificate, or use sslmode=require to encrypt without verifying.",
      { cause: err },
    );
  }
  if (e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID') {
    return new DatabaseConnectionError(
      `PostgreSQL at ${where} was refused: its certificate is outside its validity period (${e.code}). Renew the server's certificate.`,
      { cause: err },
    );
  }
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new DatabaseConnectionError(
      `PostgreSQL at ${where} was refused: its certificate is for another host name (${detail}). ` +
        'Connect with a host name the certificate lists, or use sslmode=verify-ca to check only that a trusted CA signed it.',
      { cause: err },
    );
  }
  if (isNoTlsAnswer(err)) {
    return new DatabaseConnectionError(
      `PostgreSQL at ${where} offers no TLS, and sslmode=${plan.mode} needs it. Turn ssl on at the server, or use sslmode=prefer (plain text when the server has no TLS) or disable.`,
      { cause: err },
    );
  }
  return undefined;
}

/** pg's error when the server answers the SSLRequest with 'N' (ssl = off). */
export function isNoTlsAnswer(err: unknown): boolean {
  return /server does not support SSL/i.test((err as Error | undefined)?.message ?? '');
}
