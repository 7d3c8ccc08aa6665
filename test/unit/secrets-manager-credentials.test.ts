// SecretsManagerCredentials with the real SDK client against a tiny local server that speaks
// Secrets Manager's JSON protocol for GetSecretValue (no local Secrets Manager exists; the server
// is ~15 lines and only answers what a secret store would). Counts requests to check caching.
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { RDS_CA_BUNDLE, SecretsManagerCredentials, urlFromSecret } from '#adapters/secrets-manager-credentials.ts';
import { PostgresConnector } from '#adapters/postgres/connector.ts';
import { DatabaseConnectionError } from '#core/errors.ts';

const PASSWORD = 'p@ss:w/rd%?#';
const secrets: Record<string, string> = {
  'rds/app': JSON.stringify({
    username: 'app user',
    password: PASSWORD,
    host: 'db.example.internal',
    port: 5433,
    dbname: 'app',
    engine: 'postgres',
  }),
  'rds/url': JSON.stringify({ url: 'postgres://u:p@h:5432/d?sslmode=disable' }),
  'rds/url-require': JSON.stringify({ url: 'postgres://u:p@h:5432/d?sslmode=require' }),
  'rds/url-bare': 'postgres://u:p@h:5432/d',
  'rds/broken': `{"password": "${PASSWORD}"`,
};
let requests = 0;
let server: Server;
let client: SecretsManagerClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req
      .on('data', (d) => (body += d))
      .on('end', () => {
        requests++;
        const { SecretId } = JSON.parse(body) as { SecretId: string };
        const secret = secrets[SecretId];
        res.writeHead(secret ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify(
            secret
              ? { Name: SecretId, SecretString: secret }
              : { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' },
          ),
        );
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => {
  client?.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

describe('SecretsManagerCredentials', () => {
  it('builds a URL from the RDS JSON fields, percent-encoding user and password, sslmode=verify-full', async () => {
    const url = await new SecretsManagerCredentials({ client }).urlFor('rds/app');
    expect(url).toBe(
      `postgres://app%20user:${encodeURIComponent(PASSWORD)}@db.example.internal:5433/app?sslmode=verify-full`,
    );
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.password)).toBe(PASSWORD);
  });

  it('reads a secret once per container while cached, and peek/describe work after the first read', async () => {
    const credentials = new SecretsManagerCredentials({ client });
    const connector = new PostgresConnector(credentials);
    expect(credentials.peek('rds/app')).toBeUndefined();
    expect(connector.describe({ credentials: 'rds/app' })).toBe('rds/app');
    const before = requests;
    await Promise.all([credentials.urlFor('rds/app'), credentials.urlFor('rds/app'), credentials.urlFor('rds/app')]);
    await credentials.urlFor('rds/app');
    expect(requests - before).toBe(1);
    expect(connector.describe({ credentials: 'rds/app' })).toBe('db.example.internal:5433/app');
    expect(connector.describe({ credentials: 'rds/app', database: 'other' })).toBe('db.example.internal:5433/other');
  });

  it('reads again after the cache time', async () => {
    const credentials = new SecretsManagerCredentials({ client, cacheMs: 0 });
    const before = requests;
    await credentials.urlFor('rds/url');
    await credentials.urlFor('rds/url');
    expect(requests - before).toBe(2);
    expect(await credentials.urlFor('rds/url')).toBe('postgres://u:p@h:5432/d?sslmode=disable');
  });

  it('a missing secret is a DatabaseConnectionError naming it; a malformed one never shows its text', async () => {
    const credentials = new SecretsManagerCredentials({ client });
    await expect(credentials.urlFor('rds/none')).rejects.toThrow(/Secret rds\/none does not exist/);
    await expect(credentials.urlFor('rds/none')).rejects.toBeInstanceOf(DatabaseConnectionError);
    const broken = await credentials.urlFor('rds/broken').catch((err: Error) => err);
    expect(broken).toBeInstanceOf(DatabaseConnectionError);
    expect((broken as Error).message).not.toContain('p@ss');
  });

  it('names missing fields, not values', () => {
    const err = (() => {
      try {
        urlFromSecret(JSON.stringify({ username: 'admin', password: PASSWORD }), 'rds!db-1');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toContain('lacks host');
    expect(err?.message).not.toContain(PASSWORD);
    expect(() =>
      urlFromSecret(JSON.stringify({ username: 'a', password: 'b', host: 'h', engine: 'mysql' }), 's'),
    ).toThrow('mysql');
  });

  it('connects with verify-full against the shipped Amazon RDS CAs unless the URL says otherwise, and says so', async () => {
    const credentials = new SecretsManagerCredentials({ client });
    const connector = new PostgresConnector(credentials);
    await Promise.all(
      ['rds/app', 'rds/url', 'rds/url-require', 'rds/url-bare'].map((name) => credentials.urlFor(name)),
    );
    expect(connector.describeConnection({ credentials: 'rds/app' })).toBe(
      'db.example.internal:5433/app (TLS verify-full)',
    );
    expect(connector.describeConnection({ credentials: 'rds/url-bare' })).toBe('h:5432/d (TLS verify-full)');
    // libpq: require with root certificates at hand checks the chain.
    expect(connector.describeConnection({ credentials: 'rds/url-require' })).toBe(
      'h:5432/d (TLS require, checked as verify-ca)',
    );
    expect(connector.describeConnection({ credentials: 'rds/url' })).toBe('h:5432/d (no TLS)');
    expect(credentials.tlsDefaults.roots).toBe(RDS_CA_BUNDLE);
  });

  it('the RDS CA bundle holds the current RDS root CAs of the commercial regions, and the roots of RDS Proxy', () => {
    const subjects = RDS_CA_BUNDLE.pem.map((pem) => new X509Certificate(pem).subject);
    expect(subjects.length).toBeGreaterThan(100);
    // Commercial regions only: GovCloud and China have bundles of their own.
    for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-2', 'sa-east-1']) {
      expect(
        subjects.filter((s) => s.split('\n').includes(`CN=Amazon RDS ${region} Root CA RSA2048 G1`)),
        region,
      ).toHaveLength(1);
    }
    expect(subjects.filter((s) => s.split('\n').includes('CN=Amazon Root CA 1'))).toHaveLength(1);
  });
});
