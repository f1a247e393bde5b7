import { InstallError, NotsotufError } from '../errors.js';

/**
 * A failure of the local disk while writing `path` (not of the network or the data), as our
 * InstallError: a full disk (ENOSPC, or EDQUOT for a user quota) says to free space; anything else
 * from the file system says which file and to check permissions. Other errors pass through as they are.
 */
export function localWriteError(error: unknown, path: string): unknown {
  if (!(error instanceof Error) || error instanceof NotsotufError || !('syscall' in error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new InstallError(
      'DISK_FULL',
      `the disk is full: could not write ${path}. Free some disk space and retry; the download resumes where it stopped.`,
      { cause: error },
    );
  }
  return new InstallError(
    'WRITE_FAILED',
    `could not write ${path} (${error.message}): check that the app's state folder is writable and has free space.`,
    { cause: error },
  );
}
