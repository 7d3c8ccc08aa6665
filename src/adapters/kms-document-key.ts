// The repository key in AWS (DESIGN.md invariant 10): a KMS HMAC key (key spec HMAC_256, usage
// GENERATE_VERIFY_MAC) that never leaves KMS. Tasks that write documents may call
// kms:GenerateMac on it, tasks that read them kms:VerifyMac (infra/task-policy.ts); whoever can
// write the bucket but holds neither cannot make a document a task accepts.
//
// KMS takes at most 4096 bytes of Message. A document's MAC message (sealed-document.ts
// `macMessage`) stays far below that, but this class MACs the SHA-256 digest of the message
// instead, always: one rule with no size threshold, so no message is ever MAC'd two ways
// (FORMAT.md, "Authentication"). Nothing is cached: every mac and verify is a KMS request.
import { createHash } from 'node:crypto';
import { GenerateMacCommand, VerifyMacCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { DocumentAuthenticator } from '#core/repository/repository-key.ts';
import { RepositoryError, TransientError } from '#core/errors.ts';

const ALGORITHM = 'HMAC_SHA_256';

export interface KmsDocumentKeyOptions {
  client: KMSClient;
  /** ARN of the HMAC key (FUNCTION_ENV.macKeyArn). */
  keyArn: string;
}

export class KmsDocumentKey implements DocumentAuthenticator {
  /** `kms-` and 16 hex digits of a hash of the key ARN: names the key, says nothing about the account. */
  readonly id: string;
  private readonly client: KMSClient;
  private readonly keyArn: string;

  constructor({ client, keyArn }: KmsDocumentKeyOptions) {
    this.client = client;
    this.keyArn = keyArn;
    this.id = `kms-${createHash('sha256').update(`tidemark kms mac key ${keyArn}`).digest('hex').slice(0, 16)}`;
  }

  async mac(message: string): Promise<string> {
    const out = await this.call('GenerateMac', () =>
      this.client.send(
        new GenerateMacCommand({ KeyId: this.keyArn, MacAlgorithm: ALGORITHM, Message: digest(message) }),
      ),
    );
    if (!out.Mac || out.MacAlgorithm !== ALGORITHM)
      throw new RepositoryError(
        `KMS GenerateMac on the repository key ${this.keyArn} returned no ${ALGORITHM} MAC. Check that the key is an HMAC_256 key.`,
      );
    return Buffer.from(out.Mac).toString('hex');
  }

  async verify(message: string, mac: string): Promise<boolean> {
    // Not a MAC this class writes: no request needed to know it does not authenticate.
    if (!/^[0-9a-f]{64}$/.test(mac)) return false;
    try {
      const out = await this.call('VerifyMac', () =>
        this.client.send(
          new VerifyMacCommand({
            KeyId: this.keyArn,
            MacAlgorithm: ALGORITHM,
            Message: digest(message),
            Mac: Buffer.from(mac, 'hex'),
          }),
        ),
      );
      return out.MacValid === true;
    } catch (err) {
      if (err instanceof InvalidMac) return false;
      throw err;
    }
  }

  /** Runs one KMS request, turning its failures into errors that name the key and what to do. */
  private async call<T>(operation: 'GenerateMac' | 'VerifyMac', send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw this.explain(operation, err);
    }
  }

  private explain(operation: string, err: unknown): Error {
    const name = (err as { name?: string }).name ?? '';
    const key = `the repository key ${this.keyArn}`;
    if (name === 'KMSInvalidMacException') return new InvalidMac();
    if (name === 'AccessDeniedException') {
      return new RepositoryError(
        `KMS refused kms:${operation} on ${key} to this task (AccessDeniedException). Its role must be granted kms:${operation} on that key ` +
          '(infra/task-policy.ts: tasks that write documents get GenerateMac, tasks that read them VerifyMac), and the key policy must allow it.',
        { cause: err },
      );
    }
    if (name === 'DisabledException' || name === 'KMSInvalidStateException') {
      return new RepositoryError(
        `KMS cannot use ${key} for ${operation} (${name}: it is disabled or pending deletion). Nothing in the repository can be authenticated without it: ` +
          'have the break-glass role enable it (or cancel its deletion).',
        { cause: err },
      );
    }
    if (name === 'NotFoundException' || name === 'InvalidKeyUsageException') {
      return new RepositoryError(
        `KMS cannot ${operation} with ${key} (${name}). TIDEMARK_KMS_MAC_KEY_ARN must name the stack's HMAC_256 key with usage GENERATE_VERIFY_MAC: redeploy the Tidemark stack.`,
        { cause: err },
      );
    }
    if (
      [
        'ThrottlingException',
        'KMSInternalException',
        'DependencyTimeoutException',
        'KeyUnavailableException',
        'LimitExceededException',
      ].includes(name) ||
      isNetworkError(err)
    ) {
      return new TransientError(
        `KMS ${operation} on ${key} failed for now (${name || 'network error'}), after the SDK's retries. The task is retried; if it keeps failing, check KMS quotas and the KMS endpoint.`,
        { cause: err },
      );
    }
    return new RepositoryError(
      `KMS ${operation} on ${key} failed: ${name || 'unknown error'}: ${(err as Error).message ?? String(err)}`,
      { cause: err },
    );
  }
}

/** KMS's answer that a MAC does not verify (not an error of the key: the document is forged). */
class InvalidMac extends Error {}

function digest(message: string): Uint8Array {
  return createHash('sha256').update(message, 'utf8').digest();
}

function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return (
    typeof code === 'string' &&
    ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)
  );
}
