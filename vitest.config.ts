import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each test file starts its own PostgreSQL servers; two at a time fits 2 cores.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 180_000,
    hookTimeout: 180_000,
    // s3rver needs this for ListObjectsV2 pagination (see shared/LOCAL-STACK.md).
    execArgv: ['--openssl-legacy-provider'],
    projects: [
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          // The template tests only synthesize and read the stack: sharing a worker's module cache
          // loads aws-cdk-lib once per worker instead of once per file (33 s → 25 s here).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'servers',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/infra/**'],
        },
      },
    ],
  },
});
