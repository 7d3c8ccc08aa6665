// The storage contract on S3Storage against a real local S3 server (s3rver), then what only S3
// has: multipart uploads, retries, paging, error mapping. Each test gets its own prefix in one
// bucket, so "empty storage" holds and the prefix is exercised on every call.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Storage, createS3Client } from '#adapters/s3-storage.ts';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { InvalidKeyError, RepositoryError, TransientError } from '#core/errors.ts';
import { startS3rver, type LocalS3 } from '../support/s3rver.ts';
import { listKeys, storageContract } from './storage-contract.ts';
import { chunkProblem, putChunk } from '#core/repository/chunk-store.ts';
import { layout } from '#core/repository/layout.ts';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(() => s3?.stop());

const storageAt = (prefix: string, endpoint?: string) =>
  new S3Storage({ client: s3.client(endpoint), bucket: s3.bucket, prefix });

storageContract(
  'S3Storage on s3rver',
  async () => ({ storage: storageAt(`repos/${randomUUID()}`), cleanup: async () => {} }),
  // Conditional writes (If-None-Match: *): of racing writers of one key exactly one wins.
  { exclusiveCreate: true },
);

/**
 * A fault injector in front of s3rver (a test device, not a mock: every request it lets through
 * reaches the real server unchanged, Host header included, so signatures still verify). It records
 * each request as `METHOD path?query` and answers 503 SlowDown to those `fail` picks.
 */
async function faultProxy(
  fail: (request: string) => boolean,
): Promise<{ endpoint: string; seen: string[]; close(): Promise<void> }> {
  const target = new URL(s3.endpoint);
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    seen.push(line);
    if (fail(line)) {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
      );
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const sha256 = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

describe('S3Storage on s3rver', () => {
  it('location is s3://bucket/prefix; slashes around the prefix are ignored', () => {
    expect(storageAt('/team/repo/').location).toBe(`s3://${s3.bucket}/team/repo`);
    expect(storageAt('').location).toBe(`s3://${s3.bucket}`);
  });

  it('a 20 MB body goes up in parts and is stored byte-identical (no aws-chunked framing)', async () => {
    const proxy = await faultProxy(() => false);
    try {
      const prefix = `big/${randomUUID()}`;
      const body = new Uint8Array(randomBytes(20 * 1024 * 1024));
      expect(await storageAt(prefix, proxy.endpoint).putIfAbsent('chunks/bb/20mb', body)).toBe(true);
      expect(proxy.seen.some((r) => r.startsWith('POST') && r.includes('?uploads'))).toBe(true);
      expect(proxy.seen.filter((r) => r.startsWith('PUT') && r.includes('partNumber=')).length).toBe(3);
      // The file s3rver wrote, not only what it serves back.
      const stored = await readFile(join(s3.directory, s3.bucket, prefix, 'chunks/bb/20mb._S3rver_object'));
      expect(stored.length).toBe(body.length);
      expect(sha256(stored)).toBe(sha256(body));
    } finally {
      await proxy.close();
    }
  });

  it('the test server answers a PUT with If-None-Match: * on an existing key with 412 PreconditionFailed, as S3 does', async () => {
    const client = s3.client();
    const Key = `conditional/${randomUUID()}/k`;
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'first', IfNoneMatch: '*' }));
    const refused = await client
      .send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'second', IfNoneMatch: '*' }))
      .catch((err: any) => err);
    expect(refused.$metadata?.httpStatusCode).toBe(412);
    expect(refused.name).toBe('PreconditionFailed');
  });

  it('a second write of an existing key (PUT or multipart) is conditional and treated as present: false, no HEAD, the first body stays', async () => {
    const proxy = await faultProxy(() => false);
    try {
      const storage = storageAt(`conditional/${randomUUID()}`, proxy.endpoint);
      expect(await storage.putIfAbsent('collections/c.json', new TextEncoder().encode('first'))).toBe(true);
      expect(await storage.putIfAbsent('collections/c.json', new TextEncoder().encode('second body'))).toBe(false);
      const big = new Uint8Array(randomBytes(9 * 1024 * 1024));
      expect(await storage.putIfAbsent('chunks/cc/9mb', big)).toBe(true);
      expect(await storage.putIfAbsent('chunks/cc/9mb', new Uint8Array(randomBytes(9 * 1024 * 1024)))).toBe(false);
      expect(new TextDecoder().decode(await storage.get('collections/c.json'))).toBe('first');
      expect(sha256(await storage.get('chunks/cc/9mb'))).toBe(sha256(big));
      expect(proxy.seen.filter((r) => r.startsWith('HEAD'))).toEqual([]);
      // The multipart completion carried the condition: its second POST ?uploadId= was refused.
      expect(proxy.seen.filter((r) => r.startsWith('POST') && r.includes('uploadId='))).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });

  it('a damaged chunk (overwritten short, as a writer without the condition could) is quarantined and written again under its key', async () => {
    const storage = storageAt(`quarantine/${randomUUID()}`);
    const content = new TextEncoder().encode('1\tone\n2\ttwo\n'.repeat(500));
    const first = await putChunk(storage, content, 1000);
    const Key = `${storage.location.replace(`s3://${s3.bucket}/`, '')}/${layout.chunk(first.ref.id)}`;
    await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: 'short' }));
    expect(await chunkProblem(storage, first.ref.id)).toMatch(/corrupt/);
    const again = await putChunk(storage, content, 1000);
    expect(again.bytesWritten).toBe(first.ref.storedSize);
    expect(again.quarantined).toMatch(new RegExp(`^quarantine/chunks/${first.ref.id}/`));
    expect(await chunkProblem(storage, first.ref.id)).toBeUndefined();
  });

  it('503 SlowDown twice, then success: put, head and get are retried transparently', async () => {
    const failures = new Map<string, number>();
    const proxy = await faultProxy((line) => {
      const method = line.split(' ')[0]!;
      failures.set(method, (failures.get(method) ?? 0) + 1);
      return failures.get(method)! <= 2;
    });
    try {
      const prefix = `retry/${randomUUID()}`;
      const storage = storageAt(prefix, proxy.endpoint);
      const body = new TextEncoder().encode('survives throttling');
      expect(await storage.putIfAbsent('manifests/m1', body)).toBe(true); // conditional PUT ×3
      expect(new TextDecoder().decode(await storage.get('manifests/m1'))).toBe('survives throttling'); // GET ×3
      expect(proxy.seen.filter((r) => r.startsWith('PUT'))).toHaveLength(3);
      expect(proxy.seen.filter((r) => r.startsWith('GET'))).toHaveLength(3);
      expect(await storageAt(prefix).head('manifests/m1')).toEqual({ key: 'manifests/m1', size: body.length });
    } finally {
      await proxy.close();
    }
  });

  it('a server that keeps failing gives TransientError (what the ASL retries) after maxAttempts', async () => {
    const proxy = await faultProxy(() => true);
    try {
      const client = createS3Client({
        endpoint: proxy.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        maxAttempts: 3,
      });
      const storage = new S3Storage({ client, bucket: s3.bucket, prefix: 'down' });
      const failure = await storage.get('chunks/aa/1').catch((err: Error) => err);
      expect(failure).toBeInstanceOf(TransientError);
      expect((failure as Error).name).toBe('TransientError');
      expect((failure as Error).message).toContain('chunks/aa/1');
      expect(proxy.seen).toHaveLength(3);
      client.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('list pages through ListObjectsV2 continuation tokens', async () => {
    const storage = new S3Storage({
      client: s3.client(),
      bucket: s3.bucket,
      prefix: `paged/${randomUUID()}`,
      listPageSize: 7,
    });
    const keys = Array.from(
      { length: 30 },
      (_, i) => `chunks/${String(i % 4).padStart(2, '0')}/${createHash('sha256').update(String(i)).digest('hex')}`,
    );
    await Promise.all(keys.map((key) => storage.putIfAbsent(key, new Uint8Array([1]))));
    expect(await listKeys(storage, '')).toEqual([...keys].sort());
    expect(await listKeys(storage, 'chunks/01/')).toEqual(keys.filter((k) => k.startsWith('chunks/01/')).sort());
    // StartAfter on the first page only: the continuation token carries it on.
    const sorted = [...keys].sort();
    const after = [];
    for await (const info of storage.list('chunks/', { startAfter: sorted[10]! })) after.push(info.key);
    expect(after).toEqual(sorted.slice(11));
  });

  it('refuses malformed keys and keeps the secret key out of messages', async () => {
    const storage = storageAt('keys');
    for (const key of ['', '/abs', 'a//b', '../x', 'a/./b']) {
      await expect(storage.putIfAbsent(key, new Uint8Array([1])), key).rejects.toBeInstanceOf(InvalidKeyError);
    }
    const secret = 'a-secret-key-s3rver-does-not-know';
    const client = createS3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'NOBODY', secretAccessKey: secret },
    });
    const failure = await new S3Storage({ client, bucket: s3.bucket, prefix: 'keys' })
      .get('x')
      .catch((err: Error) => err);
    expect(failure).toBeInstanceOf(RepositoryError);
    expect((failure as Error).message).toContain('access denied');
    expect((failure as Error).message).not.toContain(secret);
    client.destroy();
  });
});
