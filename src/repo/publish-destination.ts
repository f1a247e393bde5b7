import { copyFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hashFile } from '../io/digest.js';
import { isTempName, tempPathFor } from '../io/temp-name.js';
import { makeDirs } from '../io/make-dirs.js';

/** A repository file about to be published: where it is locally, and its digests on demand. */
export interface LocalFile {
  /** Path relative to the repository folder, with "/" separators. */
  readonly rel: string;
  readonly path: string;
  readonly size: number;
  /** Hex digest of the file ('md5' only for stores that compare by it, such as S3's ETag). */
  digest(algorithm: 'sha256' | 'md5'): Promise<string>;
}

/** How long a CDN or browser may keep a published file. */
export type Freshness =
  /** Content-addressed targets and versioned metadata: a name never changes its bytes. */
  | 'immutable'
  /** `timestamp.json` and `root.json`: replaced in place by every publish. */
  | 'mutable';

/**
 * Where `notsotuf publish` copies the repository: a folder or an object store. The publish workflow
 * (verify, refuse a newer or diverged destination, safe order, skip what is there, delete pruned
 * files last) is written once in publish.ts over this interface.
 */
export interface PublishDestination {
  /** How the destination is named in messages (never with credentials). */
  readonly display: string;
  /** Every file there now (relative paths with "/"), for planning and `--delete`. */
  list(): Promise<ReadonlySet<string>>;
  /** The bytes of `rel`, or undefined when absent; at most `maxBytes` (larger: undefined + flag). */
  read(rel: string, maxBytes: number): Promise<{ bytes: Buffer } | { tooLarge: true } | undefined>;
  /** True when `rel` there holds exactly the bytes of `file`. */
  holds(file: LocalFile): Promise<boolean>;
  /** Writes `file` under its name, all or nothing (a reader sees the old bytes or the new). */
  put(file: LocalFile, freshness: Freshness): Promise<void>;
  remove(rel: string): Promise<void>;
}

/** The digests of a local file, each computed at most once. */
export function localFile(rel: string, path: string, size: number): LocalFile {
  const digests = new Map<string, Promise<string>>();
  return {
    rel,
    path,
    size,
    digest(algorithm) {
      let d = digests.get(algorithm);
      if (d === undefined) {
        d = hashFile(path, { algorithm }).then((h) => h.hex);
        digests.set(algorithm, d);
      }
      return d;
    },
  };
}

/** Relative paths of the files below `dir`, without our temp files. */
export async function listFolder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && prefix === '') return out;
    throw error;
  }
  for (const entry of entries) {
    if (isTempName(entry.name)) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFolder(join(dir, entry.name), rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** A folder (a web server's root, a mounted share): temp name, then rename. */
export function folderDestination(dir: string): PublishDestination {
  const pathOf = (rel: string): string => join(dir, ...rel.split('/'));
  return {
    display: dir,
    async list() {
      return new Set(await listFolder(dir));
    },
    async read(rel, maxBytes) {
      try {
        const info = await stat(pathOf(rel));
        if (info.size > maxBytes) return { tooLarge: true };
        return { bytes: await readFile(pathOf(rel)) };
      } catch {
        return undefined;
      }
    },
    async holds(file) {
      const info = await stat(pathOf(file.rel)).catch(() => undefined);
      if (info?.isFile() !== true || info.size !== file.size) return false;
      return (await hashFile(pathOf(file.rel))).hex === (await file.digest('sha256'));
    },
    async put(file) {
      const to = pathOf(file.rel);
      const tmp = tempPathFor(to);
      try {
        await makeDirs(dirname(to));
        await copyFile(file.path, tmp);
        await rename(tmp, to);
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },
    async remove(rel) {
      await rm(pathOf(rel), { force: true });
    },
  };
}
