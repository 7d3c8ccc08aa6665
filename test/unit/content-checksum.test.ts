// The table checksum: order-independent, and sensitive to any changed, missing or extra row.
import { describe, it, expect } from 'vitest';
import { ContentChecksum } from '#core/content-checksum.ts';

const of = (text: string) => {
  const c = new ContentChecksum();
  c.addRows(Buffer.from(text));
  return c;
};

describe('ContentChecksum', () => {
  const base = 'a\t1\nb\t2\nc\t3\nc\t3\n';

  it('ignores row order', () => {
    expect(of('c\t3\na\t1\nc\t3\nb\t2\n').digest).toBe(of(base).digest);
  });

  it('changes when a row changes, goes missing, is duplicated, or two values swap columns', () => {
    const digests = [
      'a\t1\nb\t2\nc\t4\nc\t3\n',
      'a\t1\nb\t2\nc\t3\n',
      base + 'a\t1\n',
      '1\ta\nb\t2\nc\t3\nc\t3\n',
      'a\t1\nb\t2\nc\t3\nc\t3\n\n',
    ].map((t) => of(t).digest);
    for (const d of digests) expect(d).not.toBe(of(base).digest);
  });

  it('merging parts equals hashing the whole; fromParts round-trips', () => {
    const whole = of(base);
    const merged = of('a\t1\nb\t2\n');
    merged.merge(of('c\t3\nc\t3\n'));
    expect(merged.digest).toBe(whole.digest);
    expect(merged.rows).toBe(4);
    const back = ContentChecksum.fromParts(whole.rows, whole.digest);
    expect(back.digest).toBe(whole.digest);
  });
});

describe('chunk ids', () => {
  it('hashing on the thread pool gives the same SHA-256 as node:crypto', async () => {
    const { chunkIdOf, chunkIdOfAsync } = await import('#core/ids.ts');
    const content = Buffer.from('a\t1\n'.repeat(10_000));
    expect(await chunkIdOfAsync(content)).toBe(chunkIdOf(content));
    expect(await chunkIdOfAsync(content.subarray(3, 999))).toBe(chunkIdOf(content.subarray(3, 999)));
  });
});
