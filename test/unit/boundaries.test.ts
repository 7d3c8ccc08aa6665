// The core's boundary (STYLE.md rule 2, issue 12 item 4): src/core takes ports and never reaches
// a driver, the file system, the host, an AWS SDK or a native addon itself; adapters do.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../../src/core/', import.meta.url));

const FORBIDDEN_MODULES =
  /^(pg|pg-[\w-]+|(node:)?(fs|fs\/promises|os|net|tls|child_process|module|worker_threads)|@aws-sdk\/[\w-]+|@aws-lambda-powertools\/[\w-]+|@mongodb-js\/zstd.*|aws-cdk-lib.*|#(adapters|local|cli|functions)\/.*|(\.\.\/)+(adapters|local|cli)\/.*)$/;
/** Reaching the host or loading native code without an import. */
const FORBIDDEN_CALLS = [/\bcreateRequire\s*\(/, /\bprocess\.kill\s*\(/, /\brequire\s*\(/, /\bprocess\.dlopen\s*\(/];

/**
 * Known crossings still to be injected, each with why it is there. The test fails when one is
 * fixed and still listed, so the list only shrinks. Empty: the host (ports/host.ts) and the zstd
 * codec (ports/zstd.ts) come from adapters; a new crossing belongs in an adapter too.
 */
const NOT_YET_INJECTED: Record<string, string> = {};

/** What `text` imports or calls that the core may not. */
export function crossings(text: string): string[] {
  const found: string[] = [];
  for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/g))
    if (FORBIDDEN_MODULES.test(spec!)) found.push(spec!);
  for (const [, spec] of text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g))
    if (FORBIDDEN_MODULES.test(spec!)) found.push(spec!);
  for (const [, spec] of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g))
    if (FORBIDDEN_MODULES.test(spec!)) found.push(spec!);
  for (const call of FORBIDDEN_CALLS) if (call.test(text)) found.push(call.source);
  return found;
}

async function coreFiles(dir = CORE): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((e) =>
      e.isDirectory()
        ? coreFiles(join(dir, e.name))
        : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []),
    ),
  );
  return files.flat();
}

describe('the core boundary', () => {
  it('the check sees what it must: pg, node:fs, node:os, the AWS SDK, a native addon, the host', () => {
    expect(crossings(`import pg from 'pg';`)).toEqual(['pg']);
    expect(crossings(`import { readFile } from 'node:fs/promises';\nimport os from 'os';`)).toEqual([
      'node:fs/promises',
      'os',
    ]);
    expect(crossings(`import type { S3Client } from '@aws-sdk/client-s3';`)).toEqual(['@aws-sdk/client-s3']);
    expect(crossings(`const m = await import('pg-copy-streams');`)).toEqual(['pg-copy-streams']);
    expect(crossings(`const zstd = createRequire(import.meta.url)('@mongodb-js/zstd');`).length).toBeGreaterThan(0);
    expect(crossings(`process.kill(pid, 0);`).length).toBe(1);
    // The layers above the core: it gets their work through ports, never by importing them.
    expect(crossings(`import { nodeHost } from '#adapters/node-host.ts';`)).toEqual(['#adapters/node-host.ts']);
    expect(crossings(`import '../../adapters/zstd-codec.ts';`)).toEqual(['../../adapters/zstd-codec.ts']);
    expect(crossings(`import { z } from 'zod';\nimport type { TaskContext } from '../task-context.ts';`)).toEqual([]);
  });

  it('no file of src/core crosses it, apart from the listed ones', async () => {
    const offenders: Record<string, string[]> = {};
    for (const file of await coreFiles()) {
      const found = crossings(await readFile(file, 'utf8'));
      if (found.length) offenders[relative(CORE, file)] = found;
    }
    expect(
      Object.keys(offenders)
        .filter((f) => !NOT_YET_INJECTED[f])
        .map((f) => `${f}: ${offenders[f]!.join(', ')}`),
    ).toEqual([]);
    // A listed file that no longer crosses must leave the list.
    expect(Object.keys(NOT_YET_INJECTED).filter((f) => !offenders[f])).toEqual([]);
  });
});
