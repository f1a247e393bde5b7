import { constants } from 'node:buffer';
import { open } from 'node:fs/promises';
import { InstallError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { digestFile as digestFileOf } from '../io/digest.js';
import { fsError as fsErrorOf } from '../io/fs-error.js';
import type { Digest } from './format.js';

/** A file-system error on one of the diff's files as ours (src/io's one mapping). */
export function fsError(error: unknown, path: string, what: string): Error {
  return fsErrorOf(error, path, { what, input: true, code: 'FILE_IO' }) as Error;
}

/** Reads a whole file into one Buffer (works past the 2 GB limit of fs.readFile). */
export async function readWhole(path: string, what: string): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    if (size > constants.MAX_LENGTH) {
      throw new UsageError(
        'ARCHIVE_TOO_LARGE',
        `${what} ${path} has ${size} bytes; patches can be made for archives of up to ${constants.MAX_LENGTH} bytes (ship the full archive instead)`,
      );
    }
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(buf, off, Math.min(size - off, 1 << 30), off);
      if (bytesRead === 0) throw new InstallError('FILE_CHANGED', `${what} ${path} shrank while being read`);
      off += bytesRead;
    }
    return buf;
  } catch (error) {
    throw fsError(error, path, what);
  } finally {
    await fh?.close();
  }
}

/** sha256 and length of a file, read in 1 MB steps. */
export async function digestFile(path: string, what: string, signal?: AbortSignal): Promise<Digest> {
  try {
    return await digestFileOf(path, signal === undefined ? {} : { signal });
  } catch (error) {
    throw fsError(error, path, what);
  }
}

/** Writes `parts` to a temp file beside `path`, fsyncs it, then renames it to `path`. */
export async function writeAtomically(path: string, parts: readonly Uint8Array[]): Promise<void> {
  try {
    await writeFileAtomic(path, parts);
  } catch (error) {
    throw fsError(error, path, 'output');
  }
}
