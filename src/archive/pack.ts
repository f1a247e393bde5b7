import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { Digest } from '../core/custom-metadata.js';
import { InstallError, UsageError, messageOf } from '../errors.js';
import { writeFilesAtomic } from '../io/atomic-write.js';
import { fsError, isFileSystemError } from '../io/fs-error.js';
import { listFolder } from './list-folder.js';
import type { FolderEntry } from './list-folder.js';
import { dataPadding, encodeEntryHeader, endOfArchive } from './tar-format.js';

export interface PackResult {
  /** The uncompressed tar: what the signed metadata names and patches start from. */
  readonly tar: Digest;
  /** The .tar.gz as written. */
  readonly archive: Digest;
  readonly entries: number;
}

export interface PackOptions {
  /** Keep real modification times (whole seconds) instead of the fixed one. */
  readonly keepMtime?: boolean;
  /** Also write the uncompressed tar here. */
  readonly tarPath?: string;
  readonly signal?: AbortSignal;
  /** Called as the tar is produced: bytes so far and the exact final tar length. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The gzip settings are part of the reproducibility promise (see docs/archive-format.md). */
export const GZIP_LEVEL = 6;
/** OS byte of the gzip header, fixed so Windows and Unix builds of zlib write the same bytes. */
export const GZIP_OS_UNKNOWN = 255;

const READ_CHUNK = 256 * 1024;

/** Running sha256 and byte count over a stream of chunks. */
class Hasher {
  private readonly hash = createHash('sha256');
  private length = 0;
  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.length += chunk.length;
  }
  digest(): Digest {
    return { sha256: this.hash.digest('hex'), length: this.length };
  }
}

/**
 * The bytes of a file in chunks. With `scratch`, every chunk is a view of that one buffer, valid
 * only until the generator resumes: the caller must be done with it by then (hash it, await its
 * write). Reusing one buffer keeps memory flat: a fresh 256 KB Buffer per read is external memory
 * that V8 collects only after tens of MB have piled up.
 */
async function* fileData(
  entry: FolderEntry,
  signal: AbortSignal | undefined,
  scratch?: Buffer,
): AsyncGenerator<Buffer> {
  const fh = await openEntry(entry);
  try {
    let remaining = entry.size;
    while (remaining > 0) {
      signal?.throwIfAborted();
      const want = Math.min(READ_CHUNK, remaining);
      const buf = scratch === undefined ? Buffer.allocUnsafe(want) : scratch.subarray(0, want);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      remaining -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
    // a file that changes size while we pack would give a tar that matches no folder
    const extra = await fh.read(Buffer.alloc(1), 0, 1, null);
    if (remaining !== 0 || extra.bytesRead !== 0) throw folderChanged(entry);
  } finally {
    await fh.close();
  }
}

async function openEntry(entry: FolderEntry): Promise<FileHandle> {
  try {
    return await open(entry.absolutePath, 'r');
  } catch (cause) {
    throw new UsageError('FOLDER_UNREADABLE', `cannot read "${entry.absolutePath}": ${messageOf(cause)}`, {
      cause,
    });
  }
}

function folderChanged(entry: FolderEntry): UsageError {
  return new UsageError(
    'FOLDER_CHANGED',
    `"${entry.absolutePath}" changed size while it was being packed: stop whatever writes to the app folder, then pack again`,
  );
}

/**
 * A small file read whole into `buf` (at least one byte longer than the file, so that a file
 * that grew is seen); the result is a view of `buf`.
 */
async function readInto(entry: FolderEntry, signal: AbortSignal | undefined, buf: Buffer): Promise<Buffer> {
  const fh = await openEntry(entry);
  try {
    let filled = 0;
    while (filled <= entry.size) {
      signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== entry.size) throw folderChanged(entry);
    return buf.subarray(0, filled);
  } finally {
    await fh.close();
  }
}

/** The bytes of the tar of `entries`, in order, hashed into `hasher`. */
/** Files up to this size are read ahead, a few at a time, while earlier entries stream out. */
const SMALL_FILE = READ_CHUNK;
const READ_AHEAD = 8;

async function readWhole(entry: FolderEntry, signal: AbortSignal | undefined): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of fileData(entry, signal)) parts.push(chunk);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** The exact length of the tar of `entries` (known before any data is read). */
export function tarLength(entries: readonly FolderEntry[]): number {
  let total = endOfArchive().length;
  for (const e of entries) {
    total += encodeEntryHeader(e).length;
    if (e.type === 'file') total += e.size + dataPadding(e.size).length;
  }
  return total;
}

async function* tarChunks(
  entries: readonly FolderEntry[],
  hasher: Hasher,
  signal: AbortSignal | undefined,
  onProgress?: (done: number, total: number) => void,
  /** Read large files through this buffer (see fileData: the consumer must finish each chunk). */
  scratch?: Buffer,
): AsyncGenerator<Buffer> {
  const total = onProgress ? tarLength(entries) : 0;
  let done = 0;
  const out = (chunk: Buffer): Buffer => {
    hasher.update(chunk);
    if (onProgress) onProgress((done += chunk.length), total);
    return chunk;
  };
  // Reading many small files one after another is bound by syscall latency, not bandwidth: keep
  // up to READ_AHEAD of the next small files in flight (at most READ_AHEAD * SMALL_FILE bytes).
  // With `scratch` (a consumer done with each chunk when it asks for the next), they are read into
  // buffers reused from file to file: a fresh Buffer per small file was tens of MB of garbage on
  // the Node.js runtime's folder, still in the client's RSS when the patch applies next.
  const ahead = new Map<number, Promise<Buffer>>();
  const pool: Buffer[] = [];
  let next = 0;
  const fill = (from: number): void => {
    next = Math.max(next, from);
    while (next < entries.length && next < from + READ_AHEAD) {
      const e = entries[next] as FolderEntry;
      if (e.type === 'file' && e.size <= SMALL_FILE) {
        const p =
          scratch === undefined
            ? readWhole(e, signal)
            : readInto(e, signal, pool.pop() ?? Buffer.allocUnsafe(SMALL_FILE + 1));
        p.catch(() => undefined); // awaited below; never an unhandled rejection if we stop early
        ahead.set(next, p);
      }
      next++;
    }
  };
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as FolderEntry;
    signal?.throwIfAborted();
    fill(i);
    yield out(encodeEntryHeader(entry));
    if (entry.type !== 'file') continue;
    const small = ahead.get(i);
    ahead.delete(i);
    if (small !== undefined) {
      const bytes = await small;
      if (bytes.length > 0) yield out(bytes);
      // The consumer is done with it (it asked for the next chunk): the buffer serves another file.
      if (scratch !== undefined) pool.push(Buffer.from(bytes.buffer, bytes.byteOffset, SMALL_FILE + 1));
    } else {
      for await (const chunk of fileData(entry, signal, scratch)) {
        if (chunk.length > 0) yield out(chunk);
      }
    }
    const pad = dataPadding(entry.size);
    if (pad.length > 0) yield out(pad);
  }
  yield out(endOfArchive());
}

/** Passes chunks through, hashing them, optionally also appending them to a file. */
function tap(hasher: Hasher | undefined, copy?: FileHandle): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hasher?.update(chunk);
      if (!copy) return done(null, chunk);
      copy.write(chunk).then(
        () => done(null, chunk),
        (e: unknown) => done(e as Error),
      );
    },
  });
}

/** Sets the OS byte of the gzip header (offset 9) in the first chunk that reaches it. */
function fixGzipHeader(): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (seen <= 9 && seen + chunk.length > 9) chunk[9 - seen] = GZIP_OS_UNKNOWN;
      seen += chunk.length;
      done(null, chunk);
    },
  });
}

function wrapWriteError(error: unknown, what: string): unknown {
  if (error instanceof UsageError || (error instanceof Error && error.name === 'AbortError')) return error;
  if (error instanceof InstallError) return error;
  const message = `could not write ${what}: ${messageOf(error)}`;
  if (isFileSystemError(error))
    return fsError(error, what, { code: 'ARCHIVE_WRITE_FAILED', message: () => message });
  return new InstallError('ARCHIVE_WRITE_FAILED', message, {
    cause: error,
  });
}

/**
 * Packs `folder` into a reproducible `.tar.gz` at `archivePath` (and the plain tar at
 * `options.tarPath`), streaming: memory does not grow with file sizes. Both files are written under
 * temp names and renamed only when complete.
 */
export async function packFolder(
  folder: string,
  archivePath: string,
  options: PackOptions = {},
): Promise<PackResult> {
  const entries = await listFolder(folder, options);
  const finals = options.tarPath === undefined ? [archivePath] : [archivePath, options.tarPath];
  try {
    return await writeFilesAtomic(finals, async ([archiveTemp, tarTemp]) => {
      const tarHash = new Hasher();
      const gzHash = new Hasher();
      const tarFile = tarTemp === undefined ? undefined : await open(tarTemp, 'wx');
      const out = createWriteStream(archiveTemp as string, { flags: 'wx', flush: true });
      try {
        await pipeline(
          tarChunks(entries, tarHash, options.signal, options.onProgress),
          tap(undefined, tarFile),
          createGzip({
            chunkSize: READ_CHUNK,
            level: GZIP_LEVEL,
            memLevel: 8,
            windowBits: 15,
            strategy: zlibConstants.Z_DEFAULT_STRATEGY,
          }),
          fixGzipHeader(),
          tap(gzHash),
          out,
          { signal: options.signal },
        );
        if (tarFile) await tarFile.sync();
      } catch (error) {
        // A write stream destroyed before its file was opened still opens (then closes) it: wait,
        // or the temp file appears after writeFilesAtomic removed it (an aborted pack left one).
        if (!out.closed) await once(out, 'close');
        throw error;
      } finally {
        await tarFile?.close();
      }
      return { tar: tarHash.digest(), archive: gzHash.digest(), entries: entries.length };
    });
  } catch (error) {
    throw wrapWriteError(error, `archive ${archivePath}`);
  }
}

/** Writes only the uncompressed tar of `folder` (temp name, then rename). */
export async function packTar(
  folder: string,
  tarPath: string,
  options: Omit<PackOptions, 'tarPath'> & {
    /**
     * Flush the tar to disk before it is renamed into place (default true). A cache whose bytes
     * are checked before each use (the client's source tar: size, then sha256 when a patch applies)
     * may skip it: flushing 187 MB made the next steps wait for the disk.
     */
    readonly sync?: boolean;
  } = {},
): Promise<{ tar: Digest; entries: number }> {
  const entries = await listFolder(folder, options);
  try {
    return await writeFilesAtomic([tarPath], async ([temp]) => {
      const hasher = new Hasher();
      // Each chunk is written before the next is read, so one read buffer serves the whole tar.
      const fh = await open(temp as string, 'wx');
      try {
        const scratch = Buffer.allocUnsafe(READ_CHUNK);
        for await (const chunk of tarChunks(entries, hasher, options.signal, options.onProgress, scratch)) {
          let o = 0;
          while (o < chunk.length) o += (await fh.write(chunk, o, chunk.length - o)).bytesWritten;
        }
        if (options.sync !== false) await fh.sync();
      } finally {
        await fh.close();
      }
      return { tar: hasher.digest(), entries: entries.length };
    });
  } catch (error) {
    throw wrapWriteError(error, `tar ${tarPath}`);
  }
}

/**
 * The sha256 and length of the tar packTar would write for `folder`, without writing it: how a
 * client checks its installed folder against the signed tar digest of its version.
 */
export async function hashFolderAsTar(
  folder: string,
  options: Omit<PackOptions, 'tarPath'> = {},
): Promise<Digest> {
  const entries = await listFolder(folder, options);
  const hasher = new Hasher();
  // Chunks are hashed as they are produced (tarChunks' out()), so one read buffer is enough.
  const scratch = Buffer.allocUnsafe(READ_CHUNK);
  for await (const chunk of tarChunks(entries, hasher, options.signal, options.onProgress, scratch)) {
    void chunk;
  }
  return hasher.digest();
}
