// The command-line options that only cloud mode (--stack) reads, and the rule that a
// database is named there by a Secrets Manager secret, never by a URL (DESIGN.md invariant 8:
// credentials never travel in execution input, which Step Functions keeps in its history).
import { UsageError } from '#core/errors.ts';
import { LAMBDA_SNAPSHOT_HOLD_SECONDS } from '#core/backup/hold-snapshot.ts';

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return /:\/\/[^/@\s]*:[^@\s]*@/.test(url);
  }
}

/**
 * The secret that names the source or target. Refuses a connection URL in its place, and says
 * why; the URL itself is never echoed.
 */
export function secretOption(role: 'source' | 'target', secret: string | undefined, url: string | undefined): string {
  const flag = `--${role}-secret <secret-arn>`;
  const why =
    'In cloud mode (--stack) credentials never travel in the execution input (Step Functions keeps it in the execution history)';
  if (url !== undefined) {
    const what = hasPassword(url)
      ? `--${role} was given a URL with a password`
      : `--${role} takes a connection URL, which is for local mode`;
    throw new UsageError(`${what}. ${why}: store the connection in AWS Secrets Manager and pass ${flag} instead.`);
  }
  if (secret === undefined || secret === '') {
    throw new UsageError(
      `Missing ${flag}: the AWS Secrets Manager secret (ARN or name) holding the ${role} database's connection.`,
    );
  }
  if (URL_SCHEME.test(secret)) {
    const password = hasPassword(secret) ? ' This one carries a password: treat it as exposed and rotate it.' : '';
    throw new UsageError(
      `--${role}-secret takes the ARN or name of an AWS Secrets Manager secret, not a URL.${password} ${why}.`,
    );
  }
  return secret;
}

/** Options that have no meaning with --stack fail loudly instead of being ignored. */
export function refuseLocalOnly(options: { repo?: string }, stack: string): void {
  if (options.repo !== undefined) {
    throw new UsageError(`--repo does not apply with --stack ${stack}: the repository is the stack's S3 bucket.`);
  }
}

/** The export window to send: the Lambda limit unless the user chose a shorter one. */
export function cloudHoldSeconds(value: number, given: boolean): number {
  if (!given) return LAMBDA_SNAPSHOT_HOLD_SECONDS;
  if (value > LAMBDA_SNAPSHOT_HOLD_SECONDS) {
    throw new UsageError(
      `--snapshot-hold-seconds ${value} is past what a Lambda can hold a snapshot in AWS: at most ${LAMBDA_SNAPSHOT_HOLD_SECONDS} s with --stack.`,
    );
  }
  return value;
}
