// Operating-system errors of the local adapters (directory repository, file catalog) as Tidemark
// errors that say what failed, on which object, and what to do — never a bare `ENOSPC`.
import { RepositoryAccessError, RepositoryError, TidemarkError } from '#core/errors.ts';

const ADVICE: Record<string, string> = {
  ENOSPC:
    'the disk is full (ENOSPC). Free space on that filesystem and run the command again; `tidemark gc` frees what expired ' +
    'backups alone use, and needs no free space to run',
  EDQUOT: 'the disk quota is exhausted (EDQUOT). Raise the quota or free space, then run the command again',
  EROFS: 'the filesystem is read-only (EROFS). Remount it read-write, or use another repository',
  EACCES: 'permission denied (EACCES). Run Tidemark as a user who may read and write the repository directory',
  EPERM: 'operation not permitted (EPERM). Run Tidemark as a user who may read and write the repository directory',
  EIO: 'the disk reported an I/O error (EIO). Check the device; verify the repository once it is healthy',
  EMFILE: 'too many open files (EMFILE). Raise the open-file limit (ulimit -n) or use fewer workers',
};

/** `err` as a Tidemark error naming `object` when it is an OS error we can explain; else `err`. */
export function osFailure(err: unknown, action: string, object: string): unknown {
  if (err instanceof TidemarkError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const advice = code ? ADVICE[code] : undefined;
  if (!advice) return err;
  const Failure = code === 'EACCES' || code === 'EPERM' ? RepositoryAccessError : RepositoryError;
  return new Failure(`Cannot ${action} ${object}: ${advice}.`, { cause: err });
}

export function isDiskFull(err: unknown): boolean {
  const code = ((err as { cause?: NodeJS.ErrnoException }).cause ?? (err as NodeJS.ErrnoException))?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
