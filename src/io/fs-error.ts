import { InstallError, NotsotufError, UsageError } from '../errors.js';
import type { InstallErrorCode } from '../errors.js';

/**
 * The one mapping of file-system errors to ours. Every area says what the file is (or gives the
 * whole message) and which code a failure of its own kind gets; the rest is the same everywhere:
 * - a full disk (ENOSPC, or EDQUOT for a user quota) is InstallError DISK_FULL, saying to free space;
 * - a missing input file or a folder where a file was expected is the caller's mistake (UsageError
 *   FILE_NOT_FOUND / NOT_A_FILE), when the file is an input (`input: true`);
 * - any other file-system failure is InstallError with the caller's code and message;
 * - our own errors, and errors that are not the file system's (no `syscall`: a cancel, a bug),
 *   pass through unchanged.
 */
export type FsErrorContext = {
  /** Code of any other failure, e.g. WRITE_FAILED. */
  readonly code: InstallErrorCode;
  /** What to do once space is freed (default: "retry."). */
  readonly afterFreeingSpace?: string;
} & (
  | {
      /** What the file is, in the user's words ("old archive", "patch"), for the default messages. */
      readonly what: string;
      /** The file is the caller's input: a missing one is a usage error. */
      readonly input?: boolean;
      readonly message?: undefined;
    }
  | {
      /** Message of any other failure, when the default "cannot access WHAT PATH: MESSAGE" will not do. */
      readonly message: (error: Error) => string;
      readonly what?: undefined;
      readonly input?: undefined;
    }
);

/** Whether `error` comes from a file-system call (and is not already one of ours). */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && !(error instanceof NotsotufError) && 'syscall' in error;
}

export function fsError(error: unknown, path: string, context: FsErrorContext): unknown {
  if (!isFileSystemError(error)) return error;
  const code = error.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new InstallError(
      'DISK_FULL',
      `the disk is full: could not write ${path}. Free some disk space and ${context.afterFreeingSpace ?? 'retry.'}`,
      { cause: error },
    );
  }
  if (context.message !== undefined)
    return new InstallError(context.code, context.message(error), { cause: error });
  if (context.input === true && code === 'ENOENT')
    return new UsageError('FILE_NOT_FOUND', `${context.what} ${path} does not exist`, { cause: error });
  if (context.input === true && code === 'EISDIR')
    return new UsageError('NOT_A_FILE', `${context.what} ${path} is a directory, not a file`, {
      cause: error,
    });
  return new InstallError(context.code, `cannot access ${context.what} ${path}: ${error.message}`, {
    cause: error,
  });
}
