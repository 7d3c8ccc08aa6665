import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file starts its own PostgreSQL servers; two at a time fits 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // s3rver needs this for ListObjectsV2 pagination (see shared/LOCAL-STACK.md).
    execArgv: ['--openssl-legacy-provider'],
  },
});
