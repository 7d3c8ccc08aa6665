// A stand-in for KMS on 127.0.0.1 that answers GenerateMac and VerifyMac on the real wire
// protocol (awsJson1_1, `X-Amz-Target: TrentService.<Operation>`), so KmsDocumentKey runs with
// the real SDK client. No local KMS exists on npm; this answers only what an HMAC_256 key would:
// HMAC-SHA256 under a random secret per key, AccessDeniedException for a key it does not hold,
// KMSInvalidMacException from VerifyMac for a MAC that does not verify.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalKms {
  endpoint: string;
  /** Makes `keyArn` an HMAC_256 key with a new random secret. */
  addKey(keyArn: string): void;
  /** `GenerateMac <keyArn>` … in order. */
  readonly requests: string[];
  /** Answers the next request with this error (`ThrottlingException` …), as KMS would. */
  failNext(type: string): void;
  stop(): Promise<void>;
}

interface MacRequest {
  KeyId?: string;
  Message?: string;
  MacAlgorithm?: string;
  Mac?: string;
}

export async function startKms(): Promise<LocalKms> {
  const secrets = new Map<string, Buffer>();
  const requests: string[] = [];
  const failures: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req
      .on('data', (d) => (body += d))
      .on('end', () => {
        const operation = String(req.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');
        const input = JSON.parse(body || '{}') as MacRequest;
        requests.push(`${operation} ${input.KeyId}`);
        const reply = (status: number, payload: object) => {
          res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(payload));
        };
        const fail = (type: string, message: string) => reply(400, { __type: type, message });
        const failure = failures.shift();
        if (failure) return fail(failure, `${failure} (planted by the test)`);
        const secret = input.KeyId === undefined ? undefined : secrets.get(input.KeyId);
        // KMS answers a key the caller may not use, or that does not exist in its account, alike.
        if (!secret)
          return fail(
            'AccessDeniedException',
            `User is not authorized to perform: kms:${operation} on resource: ${input.KeyId}`,
          );
        if (input.MacAlgorithm !== 'HMAC_SHA_256')
          return fail('InvalidKeyUsageException', `${input.MacAlgorithm} is not a MAC algorithm of this key`);
        const message = Buffer.from(input.Message ?? '', 'base64');
        if (message.length === 0 || message.length > 4096)
          return fail('ValidationException', 'Message must be 1 to 4096 bytes');
        const mac = createHmac('sha256', secret).update(message).digest();
        if (operation === 'GenerateMac')
          return reply(200, { KeyId: input.KeyId, MacAlgorithm: 'HMAC_SHA_256', Mac: mac.toString('base64') });
        if (operation === 'VerifyMac') {
          const given = Buffer.from(input.Mac ?? '', 'base64');
          if (given.length !== mac.length || !timingSafeEqual(given, mac)) return fail('KMSInvalidMacException', '');
          return reply(200, { KeyId: input.KeyId, MacAlgorithm: 'HMAC_SHA_256', MacValid: true });
        }
        fail('UnknownOperationException', `this stand-in answers GenerateMac and VerifyMac only, not ${operation}`);
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    addKey: (keyArn) => void secrets.set(keyArn, randomBytes(32)),
    requests,
    failNext: (type) => void failures.push(type),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
