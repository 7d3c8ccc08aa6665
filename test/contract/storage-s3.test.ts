// The storage contract on S3Storage against a real local S3 server (s3rver). Each test gets its
// own prefix in one bucket, so "empty storage" holds and prefixes are exercised on every call.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { S3Storage } from '#adapters/s3-storage.ts';
import { startS3rver, type LocalS3 } from '../support/s3rver.ts';
import { storageContract } from './storage-contract.ts';

let s3: LocalS3;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(() => s3?.stop());

storageContract(
  'S3Storage on s3rver',
  async () => {
    const client = s3.client();
    const storage = new S3Storage({ client, bucket: s3.bucket, prefix: `repos/${randomUUID()}` });
    return { storage, cleanup: async () => client.destroy() };
  },
  // HEAD then PUT: racing writers of one key may all report a write (see s3-storage.ts).
  { exclusiveCreate: false },
);
