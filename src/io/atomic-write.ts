import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from './temp-name.js';
import { makeDirs } from './make-dirs.js';

/**
 * Temp file, flush, rename: a file is never seen half written under its final name, and a failed
 * write leaves no temp file behind. Errors are the file system's own: callers map them to ours
 * (fs-error.ts) where they know what the file is for.
 */

export type FileData = string | Uint8Array | readonly Uint8Array[];

export interface WriteOptions {
  /** File mode of a new file (default 0o666, less the umask). */
  readonly mode?: number;
  /** Create the parent folder first. */
  readonly makeParent?: boolean;
}

function chunks(data: FileData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data)];
  return data instanceof Uint8Array ? [data] : data;
}

/** Creates `path` (it must not exist), writes `data` and flushes it to disk. */
export async function writeNewFileSynced(path: string, data: FileData, mode = 0o666): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    for (const part of chunks(data)) {
      let off = 0;
      while (off < part.length) off += (await fh.write(part, off, part.length - off)).bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to a temp file beside `path`, flushes it, then renames it over `path`. */
export async function writeFileAtomic(
  path: string,
  data: FileData,
  options: WriteOptions = {},
): Promise<void> {
  if (options.makeParent === true) await makeDirs(dirname(path));
  const tmp = tempPathFor(path);
  try {
    await writeNewFileSynced(tmp, data, options.mode);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** `writeFileAtomic` for code that must stay synchronous (tuf-js persists metadata synchronously). */
export function writeFileAtomicSync(path: string, data: FileData, options: WriteOptions = {}): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx', options.mode ?? 0o666);
    try {
      for (const part of chunks(data)) {
        let off = 0;
        while (off < part.length) off += writeSync(fd, part, off, part.length - off);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * Several files at once: runs `write(tempPaths)` (one temp path per final path), then renames each
 * temp file to its final name; on any failure removes the temp files and leaves the final names
 * untouched. `write` decides whether to flush (large caches that can be rebuilt need not).
 */
export async function writeFilesAtomic<T>(
  finalPaths: readonly string[],
  write: (tempPaths: string[]) => Promise<T>,
): Promise<T> {
  const temps = finalPaths.map(tempPathFor);
  try {
    const result = await write(temps);
    for (let i = 0; i < temps.length; i++) await rename(temps[i] as string, finalPaths[i] as string);
    return result;
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw error;
  }
}
