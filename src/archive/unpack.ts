import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import type { Digest } from '../core/custom-metadata.js';
import { lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes, chmod } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DataError, InstallError, NotsotufError, UsageError, messageOf } from '../errors.js';
import type { DataErrorCode } from '../errors.js';
import { caseFoldKey, pathProblem, symlinkEscape, windowsPathProblem } from './path-rules.js';
import type { LinkEntry } from './path-rules.js';
import { MODE_DIR, normaliseFileMode } from './tar-format.js';
import { readTar } from './tar-reader.js';
import type { ReadEntry } from './tar-reader.js';
import { DEFAULT_UNPACK_LIMITS } from './unpack-limits.js';
import type { UnpackLimits } from './unpack-limits.js';
import { makeDirs } from '../io/make-dirs.js';

const READ_CHUNK = 256 * 1024;

export interface UnpackOptions {
  readonly limits?: Partial<UnpackLimits>;
  /**
   * The signed digest of the uncompressed tar: checked while unpacking (the stream stops as soon as
   * it is longer), and the staging folder is removed when it differs.
   */
  readonly expectedTar?: Digest;
  /** Called as the tar is read: bytes so far, and the total when expectedTar gives it. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
  readonly signal?: AbortSignal;
}

export interface UnpackResult {
  readonly entries: number;
  /** Sum of file sizes written. */
  readonly bytes: number;
  /** The uncompressed tar that was read. */
  readonly tar: Digest;
}

function tarMismatch(archivePath: string, what: string): DataError {
  return new DataError(
    'TAR_DIGEST_MISMATCH',
    `${archivePath} holds a tar with ${what}: the archive is corrupt or tampered with; nothing was installed, download it again`,
  );
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A path from the archive as it may be shown: control characters escaped (a hostile name must not
 * drive the terminal that prints the error) and cut to 200 characters.
 */
export function shownPath(path: string): string {
  const safe = path.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > 200 ? `${safe.slice(0, 200)}...` : safe;
}

function refuse(code: DataErrorCode, path: string, rule: string): DataError {
  return new DataError(
    code,
    `refused archive entry "${shownPath(path)}": ${rule}. Nothing was installed; the archive is hostile or broken, report it to the publisher`,
  );
}

/** Checks made on each entry before anything is written for it (pure: takes the state as values). */
export function checkEntry(
  entry: ReadEntry,
  tree: ReadonlyMap<string, LinkEntry>,
  folded: ReadonlyMap<string, string>,
  limits: UnpackLimits,
  platform: NodeJS.Platform = process.platform,
): void {
  const { path } = entry;
  switch (entry.type) {
    case 'hardlink':
      throw refuse(
        'ARCHIVE_HARDLINK',
        path,
        `it is a hard link to "${shownPath(entry.linkTarget)}"; notsotuf archives never contain hard links`,
      );
    case 'device':
      throw refuse(
        'ARCHIVE_SPECIAL_FILE',
        path,
        'it is a device file; only files, folders and symlinks are installed',
      );
    case 'fifo':
      throw refuse(
        'ARCHIVE_SPECIAL_FILE',
        path,
        'it is a FIFO; only files, folders and symlinks are installed',
      );
    case 'unsupported':
      throw refuse(
        'ARCHIVE_UNSUPPORTED_ENTRY',
        path,
        `its tar type "${entry.typeflag}" is not one notsotuf writes`,
      );
  }
  if (Buffer.byteLength(path, 'utf8') > limits.maxPathLength) {
    throw refuse('ARCHIVE_PATH_TOO_LONG', path, `its path is longer than ${limits.maxPathLength} bytes`);
  }
  const problem = pathProblem(path);
  if (problem) throw refuse(problem.code, path, problem.rule);
  const windows = platform === 'win32' ? windowsPathProblem(path) : undefined;
  if (windows) throw refuse('ARCHIVE_BAD_PATH', path, windows);
  if (entry.type === 'symlink' && (entry.linkTarget === '' || entry.linkTarget.includes('\0'))) {
    throw refuse('ARCHIVE_BAD_PATH', path, 'its symlink target is empty or contains NUL');
  }
  if (entry.type === 'symlink' && Buffer.byteLength(entry.linkTarget, 'utf8') > limits.maxPathLength) {
    throw refuse(
      'ARCHIVE_PATH_TOO_LONG',
      path,
      `its symlink target is longer than ${limits.maxPathLength} bytes`,
    );
  }
  if (tree.has(path)) throw refuse('ARCHIVE_DUPLICATE_ENTRY', path, 'it appears twice in the archive');
  const other = folded.get(caseFoldKey(path));
  if (other !== undefined) {
    throw refuse(
      'ARCHIVE_CASE_COLLISION',
      path,
      `it differs from "${shownPath(other)}" only in case, Unicode form or trailing dots/spaces, which Windows and macOS cannot keep apart`,
    );
  }
  const slash = path.lastIndexOf('/');
  if (slash !== -1) {
    const parent = path.slice(0, slash);
    const node = tree.get(parent);
    if (node?.type === 'symlink') {
      throw refuse(
        'ARCHIVE_WRITE_THROUGH_SYMLINK',
        path,
        `its parent "${shownPath(parent)}" is a symlink; writing through it could land outside the folder`,
      );
    }
    if (node === undefined)
      throw refuse(
        'ARCHIVE_MISSING_PARENT',
        path,
        `its folder "${shownPath(parent)}" is not an earlier entry`,
      );
    if (node.type !== 'dir')
      throw refuse('ARCHIVE_BAD_PATH', path, `its parent "${shownPath(parent)}" is a file`);
  }
  if (entry.type === 'file' && entry.size > limits.maxEntryBytes) {
    throw refuse(
      'ARCHIVE_ENTRY_TOO_LARGE',
      path,
      `it is ${entry.size} bytes, over the limit of ${limits.maxEntryBytes} bytes per file`,
    );
  }
}

/** Files up to this size are buffered and written in parallel; larger ones are streamed. */
const SMALL_FILE = 256 * 1024;
const PARALLEL_WRITES = 8;

/** Runs at most `limit` writes at once; the first failure is thrown by the next add or drain. */
class WritePool {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async add(job: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.throwIfFailed();
    const p: Promise<void> = job().then(
      () => {
        this.running.delete(p);
      },
      (error: unknown) => {
        this.running.delete(p);
        this.failure ??= { error };
      },
    );
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

/** Creates `path` ('wx': never reuses or follows an existing name) with exactly `mode` and `mtime`. */
async function writeFileExclusive(
  path: string,
  data: AsyncIterable<Buffer> | Iterable<Buffer>,
  mode: number,
  mtime: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    for await (const chunk of data) {
      signal?.throwIfAborted();
      await fh.write(chunk);
    }
    await fh.chmod(mode); // the umask may have removed bits
    await fh.utimes(mtime, mtime);
  } finally {
    await fh.close();
  }
}

async function prepareStaging(stagingDir: string): Promise<void> {
  let exists = true;
  try {
    const s = await lstat(stagingDir);
    if (!s.isDirectory()) {
      throw new UsageError(
        'STAGING_NOT_EMPTY',
        `staging folder "${stagingDir}" exists and is not a folder: give a new path`,
      );
    }
    if ((await readdir(stagingDir)).length > 0) {
      throw new UsageError(
        'STAGING_NOT_EMPTY',
        `staging folder "${stagingDir}" is not empty: give a new or empty folder`,
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapStaging(error, stagingDir);
    exists = false;
  }
  if (exists) return;
  try {
    // parents may be created; the staging folder itself must be new (EEXIST if someone raced us)
    await makeDirs(dirname(stagingDir));
    await mkdir(stagingDir);
  } catch (error) {
    throw wrapStaging(error, stagingDir);
  }
}

function wrapStaging(error: unknown, stagingDir: string): unknown {
  if (error instanceof NotsotufError) return error;
  return new InstallError(
    'STAGING_FAILED',
    `cannot create staging folder "${stagingDir}": ${messageOf(error)} (check permissions and free space)`,
    { cause: error },
  );
}

async function isGzip(archivePath: string): Promise<boolean> {
  const fh = await open(archivePath, 'r');
  try {
    // A file shorter than two bytes leaves zeros in the buffer, which are not the magic.
    const magic = Buffer.alloc(2);
    await fh.read(magic, 0, 2, 0);
    return magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

function wrap(error: unknown, archivePath: string): unknown {
  if (error instanceof NotsotufError || (error instanceof Error && error.name === 'AbortError')) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code.startsWith('Z_')) {
    return new DataError(
      'ARCHIVE_CORRUPT',
      `${archivePath} is not valid gzip data (${messageOf(error)}): download it again`,
      { cause: error },
    );
  }
  if (code === 'ENOENT' && (error as NodeJS.ErrnoException).path === archivePath) {
    return new UsageError('ARCHIVE_NOT_FOUND', `archive ${archivePath} does not exist`, { cause: error });
  }
  return new InstallError(
    'UNPACK_FAILED',
    `could not unpack ${archivePath}: ${messageOf(error)} (check free space and permissions)`,
    {
      cause: error,
    },
  );
}

/**
 * Unpacks a notsotuf tar or tar.gz into `stagingDir` (new, or an existing empty folder), checking
 * every entry before writing it (see checkEntry and docs/archive-format.md). Symlinks are created
 * last, once the whole tree is known, so no file is ever written through one and each target is
 * resolved against the complete tree. On any failure the staging folder is removed.
 */
export async function unpackArchive(
  archivePath: string,
  stagingDir: string,
  options: UnpackOptions = {},
): Promise<UnpackResult> {
  const limits: UnpackLimits = { ...DEFAULT_UNPACK_LIMITS, ...options.limits };
  const signal = options.signal;
  let gzip: boolean;
  try {
    gzip = await isGzip(archivePath);
  } catch (error) {
    throw wrap(error, archivePath);
  }
  await prepareStaging(stagingDir);

  const tree = new Map<string, LinkEntry>();
  const folded = new Map<string, string>();
  const dirs: { path: string; mtime: number }[] = [];
  const links: { path: string; target: string; mtime: number }[] = [];
  let entries = 0;
  let bytes = 0;
  const where = (path: string): string => join(stagingDir, ...path.split('/'));

  const pool = new WritePool(PARALLEL_WRITES);
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const { entry, data } of readTar(source)) {
      signal?.throwIfAborted();
      if (++entries > limits.maxEntries) {
        throw refuse(
          'ARCHIVE_TOO_MANY_ENTRIES',
          entry.path,
          `the archive has more than ${limits.maxEntries} entries`,
        );
      }
      checkEntry(entry, tree, folded, limits);
      if (entry.type === 'file' && bytes + entry.size > limits.maxTotalBytes) {
        throw refuse(
          'ARCHIVE_TOO_LARGE',
          entry.path,
          `the files add up to more than ${limits.maxTotalBytes} bytes`,
        );
      }
      const node: LinkEntry =
        entry.type === 'symlink'
          ? { type: 'symlink', linkTarget: entry.linkTarget }
          : { type: entry.type as 'file' | 'dir' };
      tree.set(entry.path, node);
      folded.set(caseFoldKey(entry.path), entry.path);

      if (entry.type === 'dir') {
        await mkdir(where(entry.path), { mode: MODE_DIR });
        await chmod(where(entry.path), MODE_DIR);
        dirs.push({ path: entry.path, mtime: entry.mtime });
      } else if (entry.type === 'symlink') {
        links.push({ path: entry.path, target: entry.linkTarget, mtime: entry.mtime });
      } else {
        const mode = normaliseFileMode(entry.mode);
        const target = where(entry.path);
        if (entry.size <= SMALL_FILE) {
          // small files (most of an app) are read here and written a few at a time
          // Copied as it comes: the chunks are views of a read buffer that is reused.
          const content = Buffer.allocUnsafe(entry.size);
          let filled = 0;
          for await (const chunk of data()) filled += chunk.copy(content, filled);
          await pool.add(() => writeFileExclusive(target, [content], mode, entry.mtime, signal));
        } else {
          await writeFileExclusive(target, data(), mode, entry.mtime, signal);
        }
        bytes += entry.size;
      }
    }
  };

  try {
    const tarHash = createHash('sha256');
    let tarLength = 0;
    const expected = options.expectedTar;
    const verify = new Transform({
      transform(chunk: Buffer, _enc, done) {
        tarLength += chunk.length;
        if (expected && tarLength > expected.length) {
          return done(tarMismatch(archivePath, `more than the signed ${expected.length} bytes`));
        }
        tarHash.update(chunk);
        options.onProgress?.(tarLength, expected?.length);
        done(null, chunk);
      },
    });
    if (gzip) {
      const file = createReadStream(archivePath, { highWaterMark: READ_CHUNK });
      await pipeline(file, createGunzip({ chunkSize: READ_CHUNK }), verify, consume, { signal });
    } else {
      // A plain tar (the patch path) is read through one reused buffer: the consumer is done with
      // each chunk before asking for the next (headers and small files are copied, large files
      // written), and a fresh Buffer per read would pile up as garbage (see docs/benchmarks.md).
      const fh = await open(archivePath, 'r');
      try {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        const chunks = async function* (): AsyncGenerator<Buffer> {
          for (;;) {
            signal?.throwIfAborted();
            const { bytesRead } = await fh.read(buf, 0, buf.length, null);
            if (bytesRead === 0) return;
            const chunk = buf.subarray(0, bytesRead);
            tarLength += bytesRead;
            if (expected && tarLength > expected.length) {
              throw tarMismatch(archivePath, `more than the signed ${expected.length} bytes`);
            }
            tarHash.update(chunk);
            options.onProgress?.(tarLength, expected?.length);
            yield chunk;
          }
        };
        await consume(chunks());
      } finally {
        await fh.close();
      }
    }
    const sha256 = tarHash.digest('hex');
    if (expected && (sha256 !== expected.sha256 || tarLength !== expected.length)) {
      throw tarMismatch(
        archivePath,
        `sha256 ${sha256} (${tarLength} bytes), not the signed ${expected.sha256} (${expected.length} bytes)`,
      );
    }
    await pool.drain();
    for (const link of links) {
      const escape = symlinkEscape(tree, link.path, link.target);
      if (escape)
        throw refuse(
          'ARCHIVE_SYMLINK_ESCAPE',
          link.path,
          `it is a symlink to "${shownPath(link.target)}" and ${escape}`,
        );
    }
    for (const link of links) {
      const target = link.target;
      const isDir = tree.get(posix.join(posix.dirname(link.path), target))?.type === 'dir';
      await symlink(target, where(link.path), isDir ? 'dir' : 'file');
      await lutimes(where(link.path), link.mtime, link.mtime).catch((error: unknown) => {
        // the time of a symlink only matters for keepMtime rebuilds; Windows may not support it
        if (process.platform !== 'win32') throw error;
      });
    }
    // Creating entries changed the folders' times, so they are set last (in any order: setting a
    // folder's times does not change its parent's).
    for (const dir of dirs) await utimes(where(dir.path), dir.mtime, dir.mtime);
    return { entries, bytes, tar: { sha256, length: tarLength } };
  } catch (error) {
    await pool.settle(); // no write may land after the folder is removed
    await rm(stagingDir, { recursive: true, force: true, maxRetries: 3 });
    throw wrap(error, archivePath);
  }
}
