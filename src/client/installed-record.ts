/**
 * What is installed: `<stateDir>/installed.json` records the version in the install folder, the
 * signed digest of its tar, and a cheap fingerprint of the folder, written after every install
 * (and after the folder was identified by its tar digest). On a later start a fingerprint that still
 * matches names the version without reading a single file; a folder changed since (by hand, or by
 * a swap) is identified again by its reproducible tar digest (installed-version.ts).
 *
 * The fingerprint is a sha256 over the install folder's own device and inode and, for every entry
 * under it in a fixed order, its path, type, mode, size, inode, modification and change times
 * (nanoseconds). A `stat` per entry: an edited, added, removed or replaced file changes it (the
 * change time cannot be set back by `touch`), and a folder swapped in by an update has another
 * inode. A false "changed" only costs one hash of the folder; a false "unchanged" would need a file
 * rewritten with the same size and both times, which a user editing files does not do.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../core/custom-metadata.js';
import { DEFAULT_UNPACK_LIMITS } from '../archive/index.js';
import { isValidVersion } from '../core/version.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { StateLayout } from './state-layout.js';
import { readOwnJson } from './state.js';

export interface InstalledRecord {
  readonly version: string;
  /** The signed sha256 and length of the version's uncompressed tar. */
  readonly tar: Digest;
  /** The install folder the record is about (absolute). */
  readonly installDir: string;
  /** `folderFingerprint(installDir)` when the record was written. */
  readonly fingerprint: string;
}

/**
 * The fingerprint of `dir` (see the module comment), or undefined when the folder cannot be read
 * or holds more entries than any release may (then it matches no record and is hashed instead).
 */
export async function folderFingerprint(dir: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  const line = (path: string, s: BigIntStats): void => {
    const type = s.isDirectory() ? 'd' : s.isFile() ? 'f' : s.isSymbolicLink() ? 'l' : 'o';
    hash.update(`${path}\0${type}\0${s.mode}\0${s.size}\0${s.ino}\0${s.mtimeNs}\0${s.ctimeNs}\n`);
  };
  try {
    const root = await statBig(dir);
    if (!root.isDirectory()) return undefined;
    hash.update(`${root.dev}:${root.ino}\n`);
    let count = 0;
    const pending = [''];
    while (pending.length > 0) {
      const rel = pending.pop() as string;
      const names = (await readdir(rel === '' ? dir : join(dir, rel))).sort();
      if ((count += names.length) > DEFAULT_UNPACK_LIMITS.maxEntries) return undefined;
      const children: string[] = [];
      const paths = names.map((name) => (rel === '' ? name : `${rel}/${name}`));
      // one folder's entries at a time, in parallel (stat is latency bound)
      const stats = await Promise.all(paths.map((p) => statBig(join(dir, p))));
      for (const [i, path] of paths.entries()) {
        const s = stats[i] as BigIntStats;
        line(path, s);
        if (s.isDirectory()) children.push(path);
      }
      // depth first, in name order: the order only has to be the same every time
      pending.push(...children.reverse());
    }
  } catch {
    return undefined;
  }
  return hash.digest('hex');
}

function statBig(path: string): Promise<BigIntStats> {
  return lstat(path, { bigint: true });
}

/** The record, or undefined when there is none or it is not ours (then the folder is identified again). */
export async function readInstalledRecord(layout: StateLayout): Promise<InstalledRecord | undefined> {
  const r = await readOwnJson(layout.installedRecordFile).catch(() => undefined);
  if (r === undefined) return undefined;
  const tar = r.tar as Record<string, unknown> | undefined;
  if (
    typeof r.version !== 'string' ||
    !isValidVersion(r.version) ||
    typeof r.installDir !== 'string' ||
    typeof r.fingerprint !== 'string' ||
    typeof tar !== 'object' ||
    tar === null ||
    typeof tar.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(tar.sha256) ||
    typeof tar.length !== 'number' ||
    !Number.isSafeInteger(tar.length)
  )
    return undefined;
  return {
    version: r.version,
    tar: { sha256: tar.sha256, length: tar.length },
    installDir: r.installDir,
    fingerprint: r.fingerprint,
  };
}

export async function writeInstalledRecord(layout: StateLayout, record: InstalledRecord): Promise<void> {
  await writeFileAtomic(layout.installedRecordFile, `${JSON.stringify(record, null, 2)}\n`, {
    makeParent: true,
  });
}

/** The record's version when it is about `installDir` and the folder is unchanged since it was written. */
export async function recordedVersion(
  record: InstalledRecord | undefined,
  installDir: string,
): Promise<string | undefined> {
  if (record === undefined || record.installDir !== installDir) return undefined;
  return (await folderFingerprint(installDir)) === record.fingerprint ? record.version : undefined;
}
