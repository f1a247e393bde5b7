import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { UsageError, messageOf } from '../errors.js';
import type { UsageErrorCode } from '../errors.js';
import { caseFoldKey, isAbsoluteTarget, pathProblem, symlinkEscape } from './path-rules.js';
import type { LinkEntry } from './path-rules.js';
import { FIXED_MTIME, MODE_DIR, normaliseFileMode } from './tar-format.js';
import type { TarEntryHeader } from './tar-format.js';
import { DEFAULT_UNPACK_LIMITS } from './unpack-limits.js';

/** One entry of the folder to pack, with where to read its data from. */
export interface FolderEntry extends TarEntryHeader {
  readonly absolutePath: string;
}

/** Mode written for symlinks (their own mode means nothing on Linux and is not kept elsewhere). */
export const MODE_SYMLINK = 0o777;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function refuse(code: UsageErrorCode, path: string, rule: string): never {
  throw new UsageError(
    code,
    `cannot pack "${path}": ${rule}. Remove or replace it in the app folder, then pack again.`,
  );
}

/** Sorts by the byte order of the UTF-8 paths (encoding each path once, not per comparison). */
function sortByPathBytes(entries: FolderEntry[]): FolderEntry[] {
  return entries
    .map((entry) => ({ entry, key: Buffer.from(entry.path, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ entry }) => entry);
}

/**
 * Clients unpack with DEFAULT_UNPACK_LIMITS unless configured otherwise, so a folder over them
 * would publish a release nobody can install: refuse it here, where the publisher can act.
 */
function checkLimits(entries: readonly FolderEntry[]): void {
  const limits = DEFAULT_UNPACK_LIMITS;
  if (entries.length > limits.maxEntries) {
    throw new UsageError(
      'FOLDER_TOO_LARGE',
      `the app folder has ${entries.length} entries, over the ${limits.maxEntries} clients accept: ship fewer files (e.g. bundle them)`,
    );
  }
  let total = 0;
  for (const e of entries) {
    if (e.type !== 'file') continue;
    if (e.size > limits.maxEntryBytes) {
      refuse(
        'FOLDER_TOO_LARGE',
        e.absolutePath,
        `it is ${e.size} bytes, over the ${limits.maxEntryBytes} bytes per file clients accept`,
      );
    }
    total += e.size;
  }
  if (total > limits.maxTotalBytes) {
    throw new UsageError(
      'FOLDER_TOO_LARGE',
      `the app folder holds ${total} bytes of files, over the ${limits.maxTotalBytes} clients accept`,
    );
  }
}

const LSTAT_BATCH = 32;

/** lstat of many paths, a batch at a time (latency bound); the first failure in order wins. */
async function lstatAll(paths: readonly string[]): Promise<Stats[]> {
  const out: Stats[] = [];
  for (let i = 0; i < paths.length; i += LSTAT_BATCH) {
    const batch = paths.slice(i, i + LSTAT_BATCH);
    const results = await Promise.allSettled(batch.map((p) => lstat(p)));
    for (const [j, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        out.push(r.value);
        continue;
      }
      throw new UsageError(
        'FOLDER_CHANGED',
        `"${batch[j]}" could not be read while packing (${messageOf(r.reason)}): stop whatever changes the app folder, then pack again`,
        { cause: r.reason },
      );
    }
  }
  return out;
}

async function statRoot(folder: string): Promise<void> {
  let s: Stats;
  try {
    s = await stat(folder);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(
        'FOLDER_NOT_FOUND',
        `app folder "${folder}" does not exist: give the folder that holds the app`,
        { cause },
      );
    }
    throw new UsageError('FOLDER_UNREADABLE', `cannot read app folder "${folder}": ${messageOf(cause)}`, {
      cause,
    });
  }
  if (!s.isDirectory()) {
    throw new UsageError(
      'NOT_A_FOLDER',
      `"${folder}" is a file, not a folder: give the folder that holds the app (the whole folder is packed)`,
    );
  }
}

/** The names in `dir` (the folder at `rel`) as archive paths, refusing names the format cannot carry. */
async function readNames(dir: string, rel: string): Promise<{ path: string; absolutePath: string }[]> {
  let names: Buffer[];
  try {
    names = await readdir(dir, { encoding: 'buffer' });
  } catch (cause) {
    throw new UsageError('FOLDER_UNREADABLE', `cannot read folder "${dir}": ${messageOf(cause)}`, {
      cause,
    });
  }
  const found: { path: string; absolutePath: string }[] = [];
  for (const raw of names) {
    let name: string;
    try {
      name = utf8.decode(raw);
    } catch {
      refuse('ARCHIVE_BAD_PATH', join(dir, raw.toString('latin1')), 'its name is not valid UTF-8');
    }
    const path = rel === '' ? name : `${rel}/${name}`;
    const absolutePath = join(dir, name);
    const problem = pathProblem(path);
    if (problem) refuse(problem.code, absolutePath, problem.rule);
    if (Buffer.byteLength(path, 'utf8') > DEFAULT_UNPACK_LIMITS.maxPathLength) {
      refuse(
        'ARCHIVE_PATH_TOO_LONG',
        absolutePath,
        `its path is longer than ${DEFAULT_UNPACK_LIMITS.maxPathLength} bytes`,
      );
    }
    found.push({ path, absolutePath });
  }
  return found;
}

/** The target of the symlink at `absolutePath`, refused when too long or absolute. */
async function symlinkTarget(absolutePath: string): Promise<string> {
  let target: string;
  try {
    target = await readlink(absolutePath);
  } catch (cause) {
    throw new UsageError(
      'FOLDER_CHANGED',
      `symlink "${absolutePath}" could not be read while packing (${messageOf(cause)})`,
      { cause },
    );
  }
  if (process.platform === 'win32') target = target.replaceAll('\\', '/');
  if (Buffer.byteLength(target, 'utf8') > DEFAULT_UNPACK_LIMITS.maxPathLength) {
    refuse(
      'ARCHIVE_PATH_TOO_LONG',
      absolutePath,
      `its symlink target is longer than ${DEFAULT_UNPACK_LIMITS.maxPathLength} bytes`,
    );
  }
  if (isAbsoluteTarget(target)) {
    refuse(
      'ARCHIVE_SYMLINK_ESCAPE',
      absolutePath,
      `it is a symlink to an absolute path (${target}); only relative symlinks that stay inside the folder are kept`,
    );
  }
  return target;
}

/** The archive entry for one lstat result; special files are refused. */
async function entryOf(
  found: { path: string; absolutePath: string },
  s: Stats,
  mtime: number,
): Promise<FolderEntry> {
  const { path, absolutePath } = found;
  if (s.isDirectory()) {
    return { type: 'dir', path, absolutePath, mode: MODE_DIR, size: 0, mtime, linkTarget: '' };
  }
  if (s.isFile()) {
    // hard links are packed as regular files: each name gets its own copy of the data
    const mode = normaliseFileMode(s.mode);
    return { type: 'file', path, absolutePath, mode, size: s.size, mtime, linkTarget: '' };
  }
  if (s.isSymbolicLink()) {
    const linkTarget = await symlinkTarget(absolutePath);
    return { type: 'symlink', path, absolutePath, mode: MODE_SYMLINK, size: 0, mtime, linkTarget };
  }
  const kind = s.isFIFO() ? 'a FIFO' : s.isSocket() ? 'a socket' : 'a device file';
  refuse(
    'ARCHIVE_SPECIAL_FILE',
    absolutePath,
    `it is ${kind}; only files, folders and relative symlinks can be packed`,
  );
}

/** Refuses names that collide on case-insensitive file systems and symlinks that leave the tree. */
function checkTree(sorted: readonly FolderEntry[]): void {
  const tree = new Map<string, LinkEntry>();
  const folded = new Map<string, string>();
  for (const e of sorted) {
    tree.set(e.path, e);
    const key = caseFoldKey(e.path);
    const other = folded.get(key);
    if (other !== undefined) {
      refuse(
        'ARCHIVE_CASE_COLLISION',
        e.absolutePath,
        `its name differs from "${other}" only in case, Unicode form or trailing dots/spaces, which Windows and macOS cannot keep apart`,
      );
    }
    folded.set(key, e.path);
  }
  for (const e of sorted) {
    if (e.type !== 'symlink') continue;
    const escape = symlinkEscape(tree, e.path, e.linkTarget);
    if (escape)
      refuse('ARCHIVE_SYMLINK_ESCAPE', e.absolutePath, `it is a symlink to "${e.linkTarget}" and ${escape}`);
  }
}

/**
 * Lists every entry under `folder` in archive order (byte order of the UTF-8 path), refusing what
 * the format cannot or must not carry: special files, links that leave the folder, names that are
 * not UTF-8 or contain "\", and names that collide on case-insensitive file systems.
 * Memory grows with the number of entries, never with file sizes.
 */
export async function listFolder(
  folder: string,
  options: { keepMtime?: boolean } = {},
): Promise<FolderEntry[]> {
  await statRoot(folder);
  const entries: FolderEntry[] = [];
  const pending: string[] = [''];
  while (pending.length > 0) {
    const rel = pending.pop() as string;
    const dir = rel === '' ? folder : join(folder, ...rel.split('/'));
    const found = await readNames(dir, rel);
    const stats = await lstatAll(found.map((f) => f.absolutePath));
    for (const [i, f] of found.entries()) {
      const s = stats[i] as Stats;
      const mtime = options.keepMtime ? Math.floor(s.mtimeMs / 1000) : FIXED_MTIME;
      const entry = await entryOf(f, s, mtime);
      entries.push(entry);
      if (entry.type === 'dir') pending.push(entry.path);
    }
  }
  const sorted = sortByPathBytes(entries);
  checkLimits(sorted);
  checkTree(sorted);
  return sorted;
}
