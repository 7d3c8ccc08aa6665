// A stand-in for Secrets Manager on 127.0.0.1 that answers GetSecretValue on the real wire
// protocol (awsJson1_1), so SecretsManagerCredentials runs with the real SDK client. No local
// Secrets Manager exists on npm; this answers only what a secret store would.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalSecretsManager {
  endpoint: string;
  /** Secret id (ARN) → SecretString. */
  readonly secrets: Map<string, string>;
  /** SecretIds asked for, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

export async function startSecretsManager(): Promise<LocalSecretsManager> {
  const secrets = new Map<string, string>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req
      .on('data', (d) => (body += d))
      .on('end', () => {
        const target = String(req.headers['x-amz-target'] ?? '');
        const { SecretId } = JSON.parse(body || '{}') as { SecretId?: string };
        requests.push(String(SecretId));
        const secret = SecretId === undefined ? undefined : secrets.get(SecretId);
        const ok = target === 'secretsmanager.GetSecretValue' && secret !== undefined;
        res.writeHead(ok ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(
          JSON.stringify(
            ok
              ? { ARN: SecretId, Name: SecretId, SecretString: secret }
              : { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' },
          ),
        );
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secrets,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
