// A real local S3 server for tests: s3rver on a free port of 127.0.0.1, storing in a temp
// directory, with one empty bucket. s3rver signs with the fixed key pair S3RVER/S3RVER; see
// shared/LOCAL-STACK.md for what it lacks (conditional writes, versioning, aborting uploads).
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '#adapters/s3-storage.ts';

/** s3rver ships no types: the part of its API used here. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3 {
  /** e.g. http://127.0.0.1:41234 */
  endpoint: string;
  bucket: string;
  /** The directory s3rver stores objects in, to inspect the bytes it really wrote. */
  directory: string;
  /** A client for this server (path style, S3RVER credentials); pass another endpoint to go through a proxy. */
  client(endpoint?: string): S3Client;
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'tidemark-test'): Promise<LocalS3> {
  const directory = await mkdtemp(join(tmpdir(), 'tidemark-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  return {
    endpoint,
    bucket,
    directory,
    client(via = endpoint) {
      const client = createS3Client({ endpoint: via, region: 'us-east-1', credentials: S3RVER_CREDENTIALS });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
