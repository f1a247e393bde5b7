import { fsError } from '../io/fs-error.js';

/**
 * A failure of the local disk while writing a download to `path` (not of the network or the data),
 * through src/io's one mapping: a full disk says to free space; anything else from the file system
 * says which file and to check permissions. Other errors pass through as they are.
 */
export function localWriteError(error: unknown, path: string): unknown {
  return fsError(error, path, {
    code: 'WRITE_FAILED',
    message: (e) =>
      `could not write ${path} (${e.message}): check that the app's state folder is writable and has free space.`,
    afterFreeingSpace: 'retry; the download resumes where it stopped.',
  });
}
