// Types for build-row-hash.mjs, imported by test/unit/row-hash.test.ts.
export function compileRowHash(): Promise<Buffer>;
export function generatedSource(bytes: Buffer): string;
