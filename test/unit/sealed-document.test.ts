// Sealed documents: every read checks format, version, length and checksum, naming the object.
import { describe, it, expect } from 'vitest';
import { openDocument, sealDocument } from '#core/repository/sealed-document.ts';

describe('sealed documents', () => {
  const sealed = Buffer.from(sealDocument('tidemark-manifest', { backupId: 'b1', rows: 3 }));

  it('round-trips', () => {
    expect(openDocument('tidemark-manifest', sealed, 'm')).toEqual({ backupId: 'b1', rows: 3 });
  });

  it('a truncated body is named as truncated', () => {
    expect(() =>
      openDocument('tidemark-manifest', sealed.subarray(0, sealed.length - 3), 'backups/b1/manifest.json'),
    ).toThrow(/backups\/b1\/manifest.json is truncated/);
  });

  it('a flipped byte fails the checksum', () => {
    const copy = Buffer.from(sealed);
    copy[copy.length - 2] ^= 1;
    expect(() => openDocument('tidemark-manifest', copy, 'm')).toThrow(/fails its checksum/);
  });

  it('another format or a newer version is refused', () => {
    expect(() => openDocument('tidemark-plan', sealed, 'm')).toThrow(/expected "tidemark-plan"/);
    const newer = Buffer.from(sealed.toString('utf8').replace(/"formatVersion":\d+/, '"formatVersion":9'));
    expect(() => openDocument('tidemark-manifest', newer, 'm')).toThrow(/format version 9.*Upgrade Tidemark/);
  });

  it('writes version 2 and still reads version-1 documents', () => {
    expect(sealed.toString('utf8')).toMatch(/^\{"format":"tidemark-manifest","formatVersion":2,/);
    const older = Buffer.from(sealed.toString('utf8').replace(/"formatVersion":\d+/, '"formatVersion":1'));
    expect(openDocument('tidemark-manifest', older, 'm')).toEqual(openDocument('tidemark-manifest', sealed, 'm'));
  });
});
