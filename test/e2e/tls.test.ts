// TLS as libpq's sslmode means it, against one real PostgreSQL serving a certificate for
// "localhost" signed by a CA made here with openssl. Connecting by "localhost" matches the
// certificate; by "127.0.0.1" (the same server) it does not, which is the wrong-host-name case.
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PostgresConnector, type CredentialSource } from '#adapters/postgres/connector.ts';
import { SecretsManagerCredentials } from '#adapters/secrets-manager-credentials.ts';
import { DatabaseConnectionError, UsageError } from '#core/errors.ts';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD, type PostgresServer } from '../support/postgres-server.ts';

let pg: PostgresServer;
let dir: string;
const ca = () => join(dir, 'ca.crt');
const otherCa = () => join(dir, 'other-ca.crt');

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a certificate for DNS name "localhost" only, signed by it; a second, unrelated CA. */
async function makeCertificates(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Tidemark test CA');
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'other-ca.key',
    '-out',
    'other-ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Someone else',
  );
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.crt',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );
  // PostgreSQL refuses a key that others can read, or (as root) one the server's user does not own.
  await chmod(join(dir, 'server.key'), 0o600);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    await chown(join(dir, 'server.key'), uid, gid);
  }
}

/** A connector whose only credentials are `url`. */
function connectorFor(url: string, tlsDefaults?: CredentialSource['tlsDefaults']): PostgresConnector {
  return new PostgresConnector({ urlFor: async () => url, peek: () => url, tlsDefaults });
}

function url(host: string, params: Record<string, string>): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(SUPERUSER_PASSWORD)}@${host}:${pg.port}/postgres?${new URLSearchParams(params)}`;
}

/** Connects and says whether the session is encrypted, as the server sees it. */
async function sessionSsl(target: string, tlsDefaults?: CredentialSource['tlsDefaults']): Promise<boolean> {
  const session = await connectorFor(target, tlsDefaults).connect({ credentials: 'db' });
  try {
    const [row] = await session.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return row!.ssl;
  } finally {
    await session.close();
  }
}

async function refusal(target: string): Promise<Error> {
  const err = await connectorFor(target)
    .connect({ credentials: 'db' })
    .then(
      () => undefined,
      (e: unknown) => e as Error,
    );
  expect(err, `connecting to ${target} should fail`).toBeInstanceOf(Error);
  return err!;
}

beforeAll(async () => {
  // No ~/.postgresql/root.crt, PGSSLMODE or PGSSLROOTCERT from this machine changes the cases.
  dir = await mkdtemp(join(tmpdir(), 'tidemark-tls-'));
  await chmod(dir, 0o755); // the server's user reads the certificate files in it
  vi.stubEnv('HOME', dir);
  vi.stubEnv('PGSSLMODE', '');
  vi.stubEnv('PGSSLROOTCERT', '');
  await makeCertificates();
  pg = await startPostgres({
    extraFlags: ['-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`],
  });
  // ssl is switched on (and, for the last case, off) by reloading, not by a flag, which would win over ALTER SYSTEM.
  await setServerSsl('on');
});

async function setServerSsl(value: 'on' | 'off'): Promise<void> {
  await pg.sql(`ALTER SYSTEM SET ssl = ${value}`);
  await pg.sql('SELECT pg_reload_conf()');
  await vi.waitFor(async () => expect((await pg.sql('SHOW ssl')).rows[0].ssl).toBe(value));
}

afterAll(async () => {
  vi.unstubAllEnvs();
  await pg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('sslmode as libpq means it', () => {
  it('verify-full without a root certificate is refused before connecting, naming the server and sslrootcert', async () => {
    const err = await refusal(url('localhost', { sslmode: 'verify-full' }));
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect(err.message).toContain(`localhost:${pg.port}/postgres`);
    expect(err.message).toContain(`root certificate file ${join(dir, '.postgresql', 'root.crt')}`);
    expect(err.message).toContain('sslrootcert=');
    expect(err.message).not.toContain(SUPERUSER_PASSWORD);
  });

  it('verify-full against CAs that did not sign the certificate is refused by the handshake', async () => {
    for (const roots of [otherCa(), 'system']) {
      const err = await refusal(
        url('localhost', { sslmode: 'verify-full', sslrootcert: roots === 'system' ? 'system' : roots }),
      );
      expect(err).toBeInstanceOf(DatabaseConnectionError);
      expect(err.message).toMatch(
        new RegExp(
          `^PostgreSQL at localhost:${pg.port}/postgres \\(TLS verify-full\\) was refused: its certificate is not signed by a CA in `,
        ),
      );
      expect(err.message).toContain('Set sslrootcert');
    }
  });

  it('verify-full with the CA is accepted, by URL parameter or by PGSSLMODE / PGSSLROOTCERT', async () => {
    expect(await sessionSsl(url('localhost', { sslmode: 'verify-full', sslrootcert: ca() }))).toBe(true);
    vi.stubEnv('PGSSLMODE', 'verify-full');
    vi.stubEnv('PGSSLROOTCERT', ca());
    try {
      expect(connectorFor(url('localhost', {})).describeConnection({ credentials: 'db' })).toBe(
        `localhost:${pg.port}/postgres (TLS verify-full)`,
      );
      expect(await sessionSsl(url('localhost', {}))).toBe(true);
      const told: string[] = [];
      await (
        await new PostgresConnector(
          { urlFor: async () => url('localhost', {}), peek: () => undefined },
          { onConnected: (w) => told.push(w) },
        ).connect({ credentials: 'db' })
      ).close();
      expect(told).toEqual([`localhost:${pg.port}/postgres (TLS verify-full)`]);
    } finally {
      vi.stubEnv('PGSSLMODE', '');
      vi.stubEnv('PGSSLROOTCERT', '');
    }
  });

  it('a certificate for another host name: verify-full refuses it, verify-ca accepts it', async () => {
    const err = await refusal(url('127.0.0.1', { sslmode: 'verify-full', sslrootcert: ca() }));
    expect(err.message).toMatch(
      new RegExp(
        `^PostgreSQL at 127\\.0\\.0\\.1:${pg.port}/postgres \\(TLS verify-full\\) was refused: its certificate is for another host name`,
      ),
    );
    expect(err.message).toContain('sslmode=verify-ca');
    expect(await sessionSsl(url('127.0.0.1', { sslmode: 'verify-ca', sslrootcert: ca() }))).toBe(true);
  });

  it('verify-ca still checks the chain', async () => {
    const err = await refusal(url('127.0.0.1', { sslmode: 'verify-ca', sslrootcert: otherCa() }));
    expect(err.message).toContain(
      '(TLS verify-ca) was refused: its certificate is not signed by a CA in sslrootcert file',
    );
  });

  it('require encrypts without checking; with a root certificate it checks the chain, as libpq does', async () => {
    expect(await sessionSsl(url('127.0.0.1', { sslmode: 'require' }))).toBe(true);
    expect(connectorFor(url('127.0.0.1', { sslmode: 'require' })).describeConnection({ credentials: 'db' })).toContain(
      '(TLS require, certificate not verified)',
    );
    expect(await sessionSsl(url('127.0.0.1', { sslmode: 'require', sslrootcert: ca() }))).toBe(true);
    const err = await refusal(url('127.0.0.1', { sslmode: 'require', sslrootcert: otherCa() }));
    expect(err.message).toContain('(TLS require, checked as verify-ca) was refused');
  });

  it('disable connects in plain text; prefer (the default) uses TLS when the server has it', async () => {
    expect(await sessionSsl(url('127.0.0.1', { sslmode: 'disable' }))).toBe(false);
    expect(connectorFor(url('127.0.0.1', { sslmode: 'disable' })).describeConnection({ credentials: 'db' })).toBe(
      `127.0.0.1:${pg.port}/postgres (no TLS)`,
    );
    expect(await sessionSsl(url('127.0.0.1', {}))).toBe(true);
  });

  it('sslrootcert=system refuses a weaker sslmode, and an unknown sslmode is a usage error', async () => {
    const weak = await refusal(url('localhost', { sslmode: 'require', sslrootcert: 'system' }));
    expect(weak).toBeInstanceOf(UsageError);
    expect(weak.message).toContain('sslrootcert=system needs sslmode=verify-full');
    const unknown = await refusal(url('localhost', { sslmode: 'verify' }));
    expect(unknown).toBeInstanceOf(UsageError);
    expect(unknown.message).toContain(`sslmode "verify" (in the URL) for localhost:${pg.port}/postgres is not one of`);
  });

  it('the AWS credentials default to verify-full against the RDS CA bundle, which this server is not signed by', async () => {
    const aws = new SecretsManagerCredentials({ client: undefined as never });
    const err = await connectorFor(url('localhost', {}).replace(/\?$/, ''), aws.tlsDefaults)
      .connect({ credentials: 'db' })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toContain(
      '(TLS verify-full) was refused: its certificate is not signed by a CA in the Amazon RDS CA bundle',
    );
    // A URL that names its CA is still trusted with it.
    expect(await sessionSsl(url('localhost', { sslrootcert: ca() }), aws.tlsDefaults)).toBe(true);
  });
});

describe('a server without TLS', () => {
  it('prefer falls back to plain text; require is refused with what to do', async () => {
    await setServerSsl('off');
    expect(await sessionSsl(url('127.0.0.1', { sslmode: 'prefer' }))).toBe(false);
    // The Lambda context logs every session with the mode in force (aws-context.ts onConnected).
    const told: string[] = [];
    await (
      await new PostgresConnector(
        { urlFor: async () => url('127.0.0.1', { sslmode: 'prefer' }), peek: () => undefined },
        { onConnected: (w) => told.push(w) },
      ).connect({ credentials: 'db' })
    ).close();
    expect(told).toEqual([`127.0.0.1:${pg.port}/postgres (no TLS: the server offers none)`]);
    const err = await refusal(url('127.0.0.1', { sslmode: 'require' }));
    expect(err.message).toBe(
      `PostgreSQL at 127.0.0.1:${pg.port}/postgres (TLS require, certificate not verified) offers no TLS, and sslmode=require needs it. ` +
        'Turn ssl on at the server, or use sslmode=prefer (plain text when the server has no TLS) or disable.',
    );
  });
});

describe('a password holding raw "@" and ":", read as pg reads it', () => {
  it('connects, and a wrong one is reported without any part of it and without its tail taken for a host', async () => {
    await pg.sql(`CREATE ROLE at_user LOGIN PASSWORD 'Pw1@Xq9:Zk7%zz'`);
    const raw = (password: string) => `postgres://at_user:${password}@127.0.0.1:${pg.port}/postgres?sslmode=disable`;
    const session = await connectorFor(raw('Pw1@Xq9:Zk7%zz')).connect({ credentials: 'db' });
    try {
      expect(await session.query('SELECT current_user AS u')).toEqual([{ u: 'at_user' }]);
    } finally {
      await session.close();
    }
    const err = await refusal(raw('Wr0@Ng1:Tl2'));
    expect(err.message).toContain(
      `PostgreSQL at 127.0.0.1:${pg.port}/postgres (no TLS) rejected the credentials of user "at_user"`,
    );
    for (const part of ['Wr0', 'Ng1', 'Tl2']) expect(err.message).not.toContain(part);
  });
});
