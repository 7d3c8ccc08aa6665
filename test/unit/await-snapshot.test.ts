// AwaitSnapshot reads what the snapshot holder published: a missing document is "not ready yet"
// (the ASL retries; tasks-idempotent.test.ts), a damaged one is an error at once, naming the object
// (it used to be read again for 10 s, for a test server whose writes were not atomic).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalContext } from '#local/local-context.ts';
import { awaitSnapshot } from '#core/backup/hold-snapshot.ts';
import { layout } from '#core/repository/layout.ts';

describe('AwaitSnapshot', () => {
  it('fails at once on a damaged snapshot document, naming it', async () => {
    const ctx = await openLocalContext(await mkdtemp(join(tmpdir(), 'tidemark-await-')), { create: true });
    const backupId = '20261207T000000Z-abcdef';
    await ctx.storage.putIfAbsent(
      layout.snapshot(backupId),
      new TextEncoder().encode('{"format":"tidemark-snapshot","garbage":'),
    );
    const started = Date.now();
    await expect(awaitSnapshot({ backupId }, ctx)).rejects.toThrow(layout.snapshot(backupId));
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
