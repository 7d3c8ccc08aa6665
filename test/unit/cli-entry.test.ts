// bin/tidemark.mjs runs the CLI bundle only while it is newer than every source file: a stale
// bundle must never run in place of edited sources. Checked on a copy of bin/ with stand-in
// entry points that say which one ran.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('CLI entry point', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tidemark-entry-'));
    for (const dir of ['bin', 'dist', 'src/cli', 'functions']) await mkdir(join(root, dir), { recursive: true });
    await copyFile('bin/tidemark.mjs', join(root, 'bin/tidemark.mjs'));
    await symlink(join(process.cwd(), 'node_modules'), join(root, 'node_modules'));
    await writeFile(join(root, 'package.json'), '{"type": "module"}');
    await writeFile(join(root, 'package-lock.json'), '{}');
    await writeFile(join(root, 'functions/handler.ts'), '');
    await writeFile(
      join(root, 'dist/tidemark.mjs'),
      `export async function main() { console.log('bundle'); return 0; }`,
    );
    await writeFile(
      join(root, 'src/cli/main.ts'),
      `export async function main(): Promise<number> { console.log('source'); return 0; }`,
    );
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const run = () => execFileSync('node', [join(root, 'bin/tidemark.mjs')], { encoding: 'utf8' }).trim();
  const age = (path: string, secondsAgo: number) =>
    utimes(join(root, path), new Date(), new Date(Date.now() - secondsAgo * 1000));

  it('runs the bundle when it is newer than the sources, the sources as soon as one is newer', async () => {
    for (const path of ['package-lock.json', 'functions/handler.ts', 'src/cli/main.ts']) await age(path, 60);
    await age('dist/tidemark.mjs', 10);
    expect(run()).toBe('bundle');
    await age('src/cli/main.ts', 0);
    expect(run()).toBe('source');
    await age('src/cli/main.ts', 60);
    await age('functions/handler.ts', 0);
    expect(run()).toBe('source');
  });

  it('runs the sources when there is no bundle', async () => {
    await rm(join(root, 'dist'), { recursive: true });
    expect(run()).toBe('source');
  });
});
