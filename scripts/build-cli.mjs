#!/usr/bin/env node
// Bundles the CLI into dist/tidemark.mjs (run by `npm ci` through "prepare", or `npm run build`).
// Why: run from source, every CLI start spends about a second in tsx's module hooks and loading
// ~900 separate modules (the AWS SDK that aws-local-stepfunctions pulls in, among them); the
// bundle starts in about a third of that. bin/tidemark.mjs uses the bundle only while it is newer
// than every source file, and runs the sources through tsx otherwise, so a stale bundle never
// runs. Without esbuild (an install without dev dependencies) this does nothing.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  console.error('build-cli: esbuild is not installed; the CLI will run from source (tsx).');
  process.exit(0);
}
await esbuild.build({
  entryPoints: [`${root}src/cli/main.ts`],
  outfile: `${root}dist/tidemark.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The native zstd addon and pg's optional native binding stay in node_modules.
  external: ['@mongodb-js/zstd', 'pg-native'],
  // CommonJS dependencies inside an ES module bundle need a require.
  banner: {
    js: "import { createRequire as __tidemarkRequire } from 'node:module'; const require = __tidemarkRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
