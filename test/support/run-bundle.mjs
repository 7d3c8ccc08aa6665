// Runs the bundled CLI (dist/tidemark.mjs, `npm run build`) whatever its age: for tests that start
// many processes and built the bundle themselves (cli-bundle.ts). bin/tidemark.mjs would fall back
// to the sources (through tsx, ~1.3 s a start) as soon as any source file is newer than the bundle.
const { main } = await import(new URL('../../dist/tidemark.mjs', import.meta.url).href);
process.exit(await main(process.argv.slice(2)));
