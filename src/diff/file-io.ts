import { constants } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { InstallError, NotsotufError, UsageError } from '../errors.js';
import type { Digest } from './format.js';

/** Turns a filesystem error on `path` into one of ours (missing input is the caller's mistake). */
export function fsError(error: unknown, path: string, what: string): Error {
  if (error instanceof NotsotufError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT')
    return new UsageError('FILE_NOT_FOUND', `${what} ${path} does not exist`, { cause: error });
  if (code === 'EISDIR')
    return new UsageError('NOT_A_FILE', `${what} ${path} is a directory, not a file`, { cause: error });
  if (error instanceof Error && typeof code === 'string') {
    return new InstallError('FILE_IO', `cannot access ${what} ${path}: ${error.message}`, { cause: error });
  }
  return error as Error;
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

export function digestOf(buf: Uint8Array): Digest {
  return { sha256: createHash('sha256').update(buf).digest('hex'), length: buf.length };
}

/** sha256 and length of a file, streamed in 1 MB reads. */
export async function digestFile(path: string, what: string, signal?: AbortSignal): Promise<Digest> {
  let fh;
  try {
    fh = await open(path, 'r');
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    let length = 0;
    for (;;) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, buf.length, length);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      length += bytesRead;
    }
    return { sha256: hash.digest('hex'), length };
  } catch (error) {
    throw fsError(error, path, what);
  } finally {
    await fh?.close();
  }
}

/** A temp name beside `path` (same folder, so the final rename is atomic). */
export function tempBeside(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.partial`;
}

/** Writes `parts` to a temp file beside `path`, fsyncs it, then renames it to `path`. */
export async function writeAtomically(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const tmp = tempBeside(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      for (const p of parts) {
        let off = 0;
        while (off < p.length) off += (await fh.write(p, off, p.length - off)).bytesWritten;
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw fsError(error, path, 'output');
  }
}
