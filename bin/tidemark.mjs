#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step), so `npx tidemark` works right after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Ends even if a driver left a socket open; the exit code is the command's verdict.
process.exit(code);
