// RepositoryStorage on an S3 prefix: the object `key` is `s3://<bucket>/<prefix>/<key>`.
// putIfAbsent is a conditional write: PutObject (or CompleteMultipartUpload) with
// `If-None-Match: *`, which S3 refuses with 412 when the key holds an object — that answer means
// "present", and nothing was written. So no task can overwrite a committed object, and the bucket
// policy can deny any PutObject on repository prefixes that lacks the condition (issue 14).
// A 409 (another conditional write of the key in flight) is retried. A PUT (or
// CompleteMultipartUpload) is atomic: readers see the old state or the whole object, never part
// of it. Callers that often find objects present (chunks) HEAD first to skip sending the body.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ObjectNotFoundError,
  RepositoryAccessError,
  RepositoryError,
  TidemarkError,
  TransientError,
  redactSecrets,
} from '#core/errors.ts';
import type { ListOptions, RepositoryStorage, StoredObjectInfo } from '#core/ports/storage.ts';
import { checkRepositoryKey } from '#core/repository/key-rules.ts';
import './zstd-codec.ts'; // provides the chunk codec to the core (repository/zstd.ts)
import { sleep } from '#core/retry.ts';

/** Bodies above this go through multipart upload (one PUT must be ≤ 5 GB; parts parallelize). */
export const MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024;
/** Memory of one multipart upload is bounded by PART_SIZE × PART_QUEUE (the body itself aside). */
const PART_SIZE = 8 * 1024 * 1024;
const PART_QUEUE = 4;
/** Tries of a conditional write that S3 answers 409 (a concurrent conditional write of the key). */
const CONFLICT_ATTEMPTS = 6;

export interface S3ClientOptions {
  /** Defaults to the SDK's resolution ($AWS_REGION, profile). */
  region?: string;
  /** A local or S3-compatible server, e.g. http://127.0.0.1:4568. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); local servers need it. Defaults to true with an endpoint. */
  forcePathStyle?: boolean;
  /** Tries per request, the first included. */
  maxAttempts?: number;
  retryMode?: 'standard' | 'adaptive';
  /** Defaults to the SDK's provider chain (environment, Lambda role). */
  credentials?: S3ClientConfig['credentials'];
}

/**
 * An S3 client configured for repositories: checksums only where S3 requires them (with the SDK
 * default a stream body reaches some S3-compatible servers with its aws-chunked framing stored
 * in the object), and retries with exponential backoff on throttling, 5xx and network errors.
 */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    credentials: options.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: options.maxAttempts ?? 6,
    retryMode: options.retryMode ?? 'standard',
    // A socket that goes silent must fail (and be retried) long before a Lambda times out.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix of the repository inside the bucket; '' for the bucket root. Slashes at either end are ignored. */
  prefix: string;
  /** Keys per ListObjectsV2 page (S3's maximum and default: 1000); tests make it small to exercise paging. */
  listPageSize?: number;
}

export class S3Storage implements RepositoryStorage {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  /** '' or `prefix/`, prepended to every key. */
  private readonly root: string;
  private readonly pageSize: number | undefined;

  constructor(options: S3StorageOptions) {
    this.client = options.client;
    this.pageSize = options.listPageSize;
    this.bucket = options.bucket;
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix !== '') checkRepositoryKey(prefix);
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.location = `s3://${this.bucket}${prefix === '' ? '' : `/${prefix}`}`;
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const Key = this.objectKey(key);
    for (let attempt = 1; ; attempt++) {
      try {
        if (body.length > MULTIPART_THRESHOLD_BYTES) {
          // lib-storage sends these params with CompleteMultipartUpload too: the condition holds there.
          const params = { Bucket: this.bucket, Key, Body: body, IfNoneMatch: '*' };
          await new Upload({ client: this.client, params, partSize: PART_SIZE, queueSize: PART_QUEUE }).done();
        } else {
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key,
              Body: body,
              ContentLength: body.length,
              IfNoneMatch: '*',
            }),
          );
        }
        return true;
      } catch (err) {
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 412 || (err as Error).name === 'PreconditionFailed') return false;
        // ConditionalRequestConflict: another conditional write of this key is in flight.
        if (status === 409 && attempt < CONFLICT_ATTEMPTS) {
          await sleep(100 * attempt);
          continue;
        }
        throw this.failure(err, 'write', key);
      }
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const body = (await out.Body?.transformToByteArray()) ?? new Uint8Array(0);
      // A connection cut mid-body must not pass for a shorter object.
      if (out.ContentLength !== undefined && body.length !== out.ContentLength) {
        throw new TransientError(
          `Reading ${key} from ${this.location} returned ${body.length} of ${out.ContentLength} bytes; try again.`,
        );
      }
      return body;
    } catch (err) {
      if (isNotFound(err)) throw new ObjectNotFoundError(key, this.location);
      throw this.failure(err, 'read', key);
    }
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.failure(err, 'inspect', key);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<StoredObjectInfo> {
    if (prefix !== '') checkRepositoryKey(prefix.replace(/\/$/, ''));
    // A continuation token carries the start on: StartAfter goes with the first request only.
    const startAfter = options.startAfter ? this.root + options.startAfter : undefined;
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.root + prefix,
            ...(ContinuationToken ? { ContinuationToken } : startAfter ? { StartAfter: startAfter } : {}),
            MaxKeys: this.pageSize,
          }),
        );
      } catch (err) {
        throw this.failure(err, 'list', prefix === '' ? '(all keys)' : `${prefix}*`);
      }
      // S3 returns each page in key order already (a no-op then); some S3-compatible servers
      // (s3rver) return directory-walk order, which sorting fixes within a page.
      const objects = (page.Contents ?? []).map((o) => ({ key: o.Key!.slice(this.root.length), size: o.Size ?? 0 }));
      yield* objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(key: string): Promise<void> {
    try {
      // S3 DELETE succeeds on a missing key, which is the idempotence the port asks for.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw this.failure(err, 'delete', key);
    }
  }

  /** A PUT leaves nothing behind; abandoned multipart uploads are the bucket lifecycle rule's. */
  async removeAbandonedWrites(): Promise<{ removed: string[]; bytes: number }> {
    return { removed: [], bytes: 0 };
  }

  private objectKey(key: string): string {
    checkRepositoryKey(key);
    return this.root + key;
  }

  /** An SDK failure (after its own retries) as a Tidemark error the ASL can Retry or Catch by name. */
  private failure(err: unknown, action: string, key: string): Error {
    if (err instanceof TidemarkError) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
    const status = e.$metadata?.httpStatusCode;
    const what = `Cannot ${action} ${key} in ${this.location}`;
    const detail = `${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${redactSecrets(e.message ?? String(err))}`;
    if (e.name === 'NoSuchBucket') {
      return new RepositoryError(`${what}: the bucket ${this.bucket} does not exist. Check the repository URL.`, {
        cause: err,
      });
    }
    if (
      status === 403 ||
      e.name === 'AccessDenied' ||
      e.name === 'InvalidAccessKeyId' ||
      e.name === 'SignatureDoesNotMatch'
    ) {
      return new RepositoryAccessError(
        `${what}: access denied (${detail}). Check that the credentials in use may read, write and list this bucket and prefix.`,
        { cause: err },
      );
    }
    if ((status !== undefined && (status >= 500 || status === 429)) || e.$retryable || status === undefined) {
      // Throttling, server errors and network failures that outlasted the SDK's retries.
      return new TransientError(`${what}: ${detail}. S3 kept failing after retries; try again later.`, { cause: err });
    }
    return new RepositoryError(`${what}: ${detail}.`, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  // HEAD responses have no body, so a missing object shows only as HTTP 404 ("NotFound").
  return (
    e.name === 'NoSuchKey' ||
    e.name === 'NotFound' ||
    (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket')
  );
}

/** `s3://bucket/some/prefix` → its parts; undefined when `url` is not an s3:// URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) return undefined;
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}
