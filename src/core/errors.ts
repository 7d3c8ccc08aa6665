// One error base class; subclasses set `name`, which is what the ASL Retry / Catch
// `ErrorEquals` match (Lambda reports `errorType` = error.name). Messages say what failed,
// on which object, and what to do.

export class TidemarkError extends Error {
  /** Process exit code the CLI uses for this kind of failure. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command-line input or configuration. */
export class UsageError extends TidemarkError {
  override readonly exitCode = 2;
}

/** The source or target database could not be reached or refused us. */
export class DatabaseConnectionError extends TidemarkError {}

/** A transient failure worth retrying (network blip, throttling, serialization failure). */
export class TransientError extends TidemarkError {}

/** The repository is missing, is not a Tidemark repository, or has an unsupported format. */
export class RepositoryError extends TidemarkError {}

/** The credentials in use may not do this to the repository (S3 403, EACCES / EPERM). */
export class RepositoryAccessError extends RepositoryError {}

/** An object in the repository does not match its hash, checksum or format. */
export class IntegrityError extends TidemarkError {}

/** A backup id that the catalog does not know. */
export class BackupNotFoundError extends TidemarkError {}

/** A catalog conditional write lost a race or found an unexpected state. */
export class CatalogConflictError extends TidemarkError {}

/** The restore target exists and is not empty, or otherwise cannot be used. */
export class RestoreTargetError extends TidemarkError {}

/** A restored database does not match what the manifest recorded. */
export class VerificationError extends TidemarkError {}

/** The exported snapshot is gone or past the export window (see FORMAT.md, "Consistency"). */
export class SnapshotExpiredError extends TidemarkError {}

/** The backup's role cannot read every row of the source (no SELECT, or row-level security applies to it). */
export class SourceAccessError extends TidemarkError {}

/** Something in the source that Tidemark cannot back up faithfully. */
export class UnsupportedObjectError extends TidemarkError {}

/** Names for a message: the first `max`, then how many more ("a, b and 3 more"). */
export function listNames(names: readonly string[], max: number): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/** Removes credentials from any text before it is shown, logged or stored. */
export function redactSecrets(text: string): string {
  return (
    text
      // As pg's parser (WHATWG) splits a URL: the user runs to the first ':' (it may hold '@',
      // or be empty) and the password to the last '@' before the host, so a password holding
      // '@' goes whole; one holding '/' too, though pg cannot parse that URL
      .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)\S*?@(?=[^@\s/?#]*(?:[\s/?#]|$))/gi, '$1***@')
      .replace(/("password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"***"')
      .replace(/(password\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi, '$1***')
  );
}

/** A repository object that does not exist. */
export class ObjectNotFoundError extends TidemarkError {
  constructor(
    readonly key: string,
    location: string,
  ) {
    super(`Object ${key} is missing from the repository at ${location}.`);
  }
}

/** A repository key or catalog id that is malformed or unsafe (absolute, `..`, empty segment);
 *  always a bug in the caller, so it is never retried. */
export class InvalidKeyError extends TidemarkError {}

/** The server is reachable but the database does not exist. */
export class DatabaseMissingError extends DatabaseConnectionError {
  constructor(
    message: string,
    readonly database: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A statement failed on the server; `code` is the SQLSTATE. */
export class SqlError extends TidemarkError {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A collection name that the catalog does not know. */
export class CollectionNotFoundError extends TidemarkError {}

/** Another maintenance task (gc, expire, catalog rebuild) holds the repository's `maintenance` lease. */
export class LeaseHeldError extends TidemarkError {}

/** Our own lease ran out (or was taken) while we worked: stop before changing anything more. */
export class LeaseLostError extends TidemarkError {}

/** Garbage collection refused because backups are running (they may reuse existing chunks). */
export class BackupsRunningError extends TidemarkError {}

/** A backup run is past its deadline: garbage collection no longer waits for it, so it may not commit. */
export class RunDeadlineError extends TidemarkError {}

/** A backup could not start: garbage collection held the repository for longer than it waits. */
export class MaintenanceInProgressError extends TidemarkError {}
