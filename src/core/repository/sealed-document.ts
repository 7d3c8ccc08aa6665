// JSON documents that carry their own format version and checksum (manifests, plans, results,
// the repository marker). Layout: one header line, then the body:
//   {"format":"tidemark-manifest","formatVersion":2,"key":"backups/<id>/manifest.json","bodySha256":"…","bodyBytes":1234}\n<body JSON>
// The checksum covers the body bytes exactly as stored, so verification needs no re-serialisation,
// and bodyBytes tells a truncated file from a corrupted one. `key` (written since the document
// registry, documents.ts) is where the document belongs: a copy found under another key is refused.
// Typed reads and writes go through documents.ts; this module only frames and checks bytes.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { IntegrityError } from '../errors.ts';

export const FORMAT_VERSION = 2;

export interface Header {
  format: string;
  formatVersion: number;
  /** The repository key the document was written under; absent in documents written before. */
  key?: string;
  bodySha256: string;
  bodyBytes: number;
  /**
   * The id of the repository it was written in (its marker's `repositoryId`); absent in documents
   * written before, and where the writer had not opened the repository. Covered by the MAC.
   */
  repository?: string;
  /** Which repository key authenticated it (repository-key.ts), and the HMAC over `macMessage`. */
  keyId?: string;
  mac?: string;
}

const headerSchema = z.looseObject({
  format: z.string(),
  formatVersion: z.number().int().positive(),
  key: z.string().optional(),
  bodySha256: z.string().regex(/^[0-9a-f]{64}$/),
  bodyBytes: z.number().int().nonnegative(),
  repository: z.string().optional(),
  keyId: z.string().optional(),
  mac: z.string().optional(),
});

/** What a document's MAC covers: its kind, version, place, repository (when named) and body (through its hash). */
export function macMessage(header: Header): string {
  const fields = [header.format, header.formatVersion, header.key ?? null, header.bodySha256, header.bodyBytes];
  return JSON.stringify(header.repository === undefined ? fields : [...fields, header.repository]);
}

export function sealDocument(format: string, body: unknown, key?: string): Uint8Array {
  const { header, bodyBytes } = headerFor(format, body, key);
  return frame(header, bodyBytes);
}

/** sealDocument with `keyId` and `mac` from `sign` (an HMAC, locally or by KMS) in the header. */
export async function sealSignedDocument(
  format: string,
  body: unknown,
  key: string,
  sign: (header: Header) => Promise<{ keyId: string; mac: string }>,
  repository?: string,
): Promise<Uint8Array> {
  const { header, bodyBytes } = headerFor(format, body, key, repository);
  return frame({ ...header, ...(await sign(header)) }, bodyBytes);
}

function headerFor(
  format: string,
  body: unknown,
  key: string | undefined,
  repository?: string,
): { header: Header; bodyBytes: Buffer } {
  const bodyBytes = Buffer.from(JSON.stringify(body), 'utf8');
  const header: Header = {
    format,
    formatVersion: FORMAT_VERSION,
    ...(key === undefined ? {} : { key }),
    bodySha256: createHash('sha256').update(bodyBytes).digest('hex'),
    bodyBytes: bodyBytes.length,
    ...(repository === undefined ? {} : { repository }),
  };
  return { header, bodyBytes };
}

function frame(header: Header, bodyBytes: Buffer): Uint8Array {
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n', 'utf8'), bodyBytes]);
}

/**
 * The same body bytes under `header` (repository seal: a MAC added to a document written without
 * one). The body is kept byte for byte, so its checksum stays what the header says.
 */
export function withHeader(bytes: Uint8Array, header: Header): Uint8Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return frame(header, buf.subarray(buf.indexOf(10) + 1));
}

/** Parses and verifies a sealed document; `what` names the object in errors (e.g. its key). */
export function openDocument(format: string, bytes: Uint8Array, what: string): unknown {
  return openSealed(format, bytes, what).body;
}

/** Like openDocument, with the verified header (documents.ts checks its `key`). */
export function openSealed(format: string, bytes: Uint8Array, what: string): { header: Header; body: unknown } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const newline = buf.indexOf(10);
  let header: Header;
  try {
    if (newline < 0) throw new Error('no header line');
    const parsed = headerSchema.safeParse(JSON.parse(buf.subarray(0, newline).toString('utf8')));
    if (!parsed.success) throw new Error('bad header fields');
    header = parsed.data;
  } catch {
    throw new IntegrityError(
      `${what} is not a readable Tidemark ${format} (bad header). The object is damaged; restore it from a copy of the repository or use another backup.`,
    );
  }
  if (header.format !== format) {
    throw new IntegrityError(`${what} is a "${header.format}", expected "${format}".`);
  }
  if (header.formatVersion > FORMAT_VERSION) {
    throw new IntegrityError(
      `${what} has format version ${header.formatVersion}; this Tidemark reads up to ${FORMAT_VERSION}. Upgrade Tidemark.`,
    );
  }
  const body = buf.subarray(newline + 1);
  if (body.length !== header.bodyBytes) {
    throw new IntegrityError(
      `${what} is truncated or padded: ${body.length} body bytes, header says ${header.bodyBytes}. The object is damaged; use another backup.`,
    );
  }
  const digest = createHash('sha256').update(body).digest('hex');
  if (digest !== header.bodySha256) {
    throw new IntegrityError(
      `${what} fails its checksum (sha256 ${digest.slice(0, 12)}…, expected ${header.bodySha256.slice(0, 12)}…). The object is damaged; use another backup.`,
    );
  }
  try {
    return { header, body: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    throw new IntegrityError(
      `${what} passes its checksum but its body is not JSON: it was written damaged or forged. Use another backup.`,
    );
  }
}
