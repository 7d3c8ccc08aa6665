#!/usr/bin/env node
// Runs the CLI bundle (dist/tidemark.mjs, built by `npm ci`) when it is newer than every source
// file, else the TypeScript sources directly through tsx: `npx tidemark` works right after
// `npm ci`, and an edited source is never shadowed by an old bundle.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = `${root}dist/tidemark.mjs`;

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function bundleIsFresh() {
  try {
    const built = statSync(bundle).mtimeMs;
    const sources = Math.max(
      newestSource(`${root}src`),
      newestSource(`${root}functions`),
      statSync(`${root}package-lock.json`).mtimeMs,
    );
    return built >= sources;
  } catch {
    return false;
  }
}

let main;
if (bundleIsFresh()) {
  ({ main } = await import(bundle));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(process.argv.slice(2));
// Ends even if a driver left a socket open; the exit code is the command's verdict.
process.exit(code);
