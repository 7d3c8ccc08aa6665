// A real local S3 server for tests: s3rver on a free port of 127.0.0.1, storing in a temp
// directory, with one empty bucket. s3rver signs with the fixed key pair S3RVER/S3RVER; see
// shared/LOCAL-STACK.md for what it lacks (conditional writes, versioning, aborting uploads).
//
// One s3rver 3.7.1 flaw is corrected here, because S3 itself does not have it: its PUT writes
// the object file in place and replies before the write is flushed, so two PUTs of one key can
// leave a torn mix of both bodies (seen in CI on the 20-writer race of the storage contract).
// S3 guarantees a PUT is atomic — readers see the old object or the whole new one — and the
// adapters rely on that, so `atomicPuts` writes each body to a temporary file, renames it over
// the object, and replies after that, one PUT of a key at a time.
//
// s3rver also ignores `If-None-Match: *` (it overwrites). S3 refuses such a PutObject or
// CompleteMultipartUpload with 412 PreconditionFailed when the key holds an object, and the
// adapters rely on it for write-once objects, so the store does the same here: the condition is
// checked inside the per-key queue, so of racing conditional writers exactly one wins.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { access, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '#adapters/s3-storage.ts';

/** s3rver ships no types: the part of its API used here. */
interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Its FilesystemStore; the Koa context holds the same object. */
  store: FilesystemStore;
  /** Koa's middleware stack, composed when the server starts listening. */
  middleware: ((ctx: { get(header: string): string }, next: () => Promise<void>) => Promise<void>)[];
}
interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}
interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
const S3Error = createRequire(import.meta.url)('s3rver/lib/models/error') as new (
  code: string,
  message: string,
  detail?: Record<string, string>,
) => Error;
/** Set while a request carrying `If-None-Match: *` is handled. */
const ifNoneMatch = new AsyncLocalStorage<boolean>();

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
  atomicPuts(server.store);
  // Outermost, so the store's putObject runs inside it (s3rver composes middleware on listen).
  server.middleware.unshift((ctx, next) => (ctx.get('if-none-match') === '*' ? ifNoneMatch.run(true, next) : next()));
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

/** Replaces the store's putObject (also used to complete multipart uploads) by an atomic one. */
function atomicPuts(store: FilesystemStore): void {
  const pending = new Map<string, Promise<unknown>>();
  const write = async (object: StoredObject, conditional: boolean) => {
    const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
    if (
      conditional &&
      (await access(objectPath).then(
        () => true,
        () => false,
      ))
    ) {
      if (!Buffer.isBuffer(object.content)) object.content.resume(); // drain the body it will not store
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'If-None-Match',
      });
    }
    // Not ending in s3rver's object suffix, so a listing never shows it.
    const partial = `${objectPath}.${randomUUID()}.partial`;
    await mkdir(dirname(objectPath), { recursive: true });
    const md5 = createHash('md5');
    let size = 0;
    const content = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    await pipeline(
      content,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const piece of source) {
          md5.update(piece);
          size += piece.length;
          yield piece;
        }
      },
      createWriteStream(partial),
    );
    await rename(partial, objectPath);
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    return { size, md5: digest };
  };
  store.putObject = (object) => {
    const id = `${object.bucket}/${object.key}`;
    const conditional = ifNoneMatch.getStore() === true;
    const done = (pending.get(id) ?? Promise.resolve()).catch(() => undefined).then(() => write(object, conditional));
    pending.set(id, done);
    void done
      .finally(() => {
        if (pending.get(id) === done) pending.delete(id);
      })
      .catch(() => undefined);
    return done;
  };
}
