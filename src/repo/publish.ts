import { open, readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DataError, InstallError, NotsotufError, UsageError, messageOf } from '../errors.js';
import type { LocalFile, PublishDestination } from './publish-destination.js';
import { folderDestination, listFolder, localFile } from './publish-destination.js';
import { inPublishOrder } from './repository-writer.js';
import { verifyRepository } from './verify.js';

export type PublishAction = 'copied' | 'skipped' | 'deleted';

export interface PublishOptions {
  readonly now?: Date;
  /** Copy even when `status` finds problems (clients will refuse such a repository). */
  readonly unsafeSkipVerify?: boolean;
  /** Called after each file copied, skipped or deleted (for progress), with its size in bytes. */
  readonly onFile?: (rel: string, action: PublishAction, bytes: number) => void;
  /**
   * After publishing, remove from DEST the targets and snapshot/targets metadata that the
   * repository no longer has (after `release prune`). Roots and other files are never removed.
   */
  readonly deleteExtra?: boolean;
  /** Check everything and say what would be copied and deleted, but write nothing. */
  readonly dryRun?: boolean;
  /** The key folder: publishRepository refuses a DEST that holds it (DEST is served to everyone). */
  readonly keyDir?: string;
}

export interface PublishResult {
  /** Files copied (with dryRun: that would be copied). */
  readonly copied: readonly string[];
  readonly skipped: readonly string[];
  /** Files removed from DEST with deleteExtra (with dryRun: that would be removed). */
  readonly deleted: readonly string[];
  /** Bytes copied (with dryRun: that would be). */
  readonly bytes: number;
}

/** The largest root.json or timestamp.json read back from a destination to compare versions. */
const MAX_COMPARED_METADATA = 1024 * 1024;

function versionIn(bytes: Buffer): number | undefined {
  try {
    const v = (JSON.parse(bytes.toString('utf8')) as { signed?: { version?: unknown } }).signed?.version;
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to publish over a destination that holds a newer (or a different, same-version) timestamp
 * or root: someone published from another copy, and copying ours would roll clients back.
 */
async function checkNotOlder(files: readonly LocalFile[], dest: PublishDestination): Promise<void> {
  for (const name of ['metadata/timestamp.json', 'metadata/root.json']) {
    const local = files.find((f) => f.rel === name);
    if (local === undefined) continue;
    const oursBytes = await readFile(local.path);
    const ours = versionIn(oursBytes);
    const found = await dest.read(name, MAX_COMPARED_METADATA);
    if (ours === undefined || found === undefined) continue;
    const theirs = 'tooLarge' in found ? Number.MAX_SAFE_INTEGER : versionIn(found.bytes);
    if (theirs === undefined) continue;
    if (theirs > ours || (theirs === ours && !('bytes' in found && found.bytes.equals(oursBytes)))) {
      throw new UsageError(
        'DESTINATION_NEWER',
        `${dest.display} already has ${name.slice('metadata/'.length)} version ${theirs} (this repository has ${ours}${theirs === ours ? ', with other contents' : ''}): it was published from another copy; get that copy first, nothing was published`,
      );
    }
  }
}

/** Versioned metadata never changes its bytes: a different copy there is another publisher's. */
function isVersionedMetadata(rel: string): boolean {
  return /^metadata\/\d+\.[^/]+\.json$/.test(rel);
}

/** Files that publish may delete with deleteExtra: ours by name (roots are always kept). */
function isPrunable(rel: string): boolean {
  return /^metadata\/\d+\.(targets|snapshot)\.json$/.test(rel) || /^targets\/[0-9a-f]{64}\.[^/]+$/.test(rel);
}

async function localFiles(repoDir: string): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  for (const rel of await listFolder(repoDir)) {
    const path = join(repoDir, ...rel.split('/'));
    files.push(localFile(rel, path, (await stat(path)).size));
  }
  return inPublishOrder(files);
}

/** A destination error as ours: our own errors pass, others become PUBLISH_FAILED. */
function publishFailed(dest: PublishDestination, rel: string, cause: unknown): NotsotufError {
  if (cause instanceof NotsotufError) return cause;
  return new InstallError(
    'PUBLISH_FAILED',
    `copying ${rel} to ${dest.display} failed: ${messageOf(cause)}; run publish again to finish`,
    { cause },
  );
}

/**
 * Publishes the repository at `repoDir` to `dest` in the order that never shows a client a torn
 * repository: targets, versioned metadata, root.json, timestamp.json last (then, with deleteExtra,
 * the pruned files). Files already there with equal bytes are skipped, so an interrupted publish
 * resumes where it stopped. The repository is verified first; a destination with a newer root or
 * timestamp, or versioned metadata that differs from ours, is refused before anything is written.
 */
export async function publishTo(
  repoDir: string,
  dest: PublishDestination,
  options: PublishOptions = {},
): Promise<PublishResult> {
  if (options.unsafeSkipVerify !== true) {
    const report = await verifyRepository(repoDir, options.now === undefined ? {} : { now: options.now });
    if (!report.ok) {
      throw new DataError(
        'REPOSITORY_INVALID',
        `the repository does not verify, nothing was published:\n  ${report.problems.map((p) => p.message).join('\n  ')}`,
      );
    }
  }
  const files = await localFiles(repoDir);
  await checkNotOlder(files, dest);
  const there = await dest.list();
  const toCopy: LocalFile[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    if (!there.has(file.rel)) {
      toCopy.push(file);
    } else if (await dest.holds(file)) {
      skipped.push(file.rel);
    } else if (isVersionedMetadata(file.rel)) {
      throw new UsageError(
        'DESTINATION_CHANGED',
        `${dest.display} has another ${file.rel} than this repository: it was published from another copy; get that copy first, nothing was published`,
      );
    } else {
      toCopy.push(file); // root.json, timestamp.json (checked above), or a damaged target copy
    }
  }
  const present = new Set(files.map((f) => f.rel));
  const toDelete =
    options.deleteExtra === true
      ? [...there].filter((rel) => isPrunable(rel) && !present.has(rel)).sort()
      : [];
  const bytes = toCopy.reduce((sum, f) => sum + f.size, 0);
  if (options.dryRun === true) {
    return { copied: toCopy.map((f) => f.rel), skipped, deleted: toDelete, bytes };
  }
  for (const rel of skipped) options.onFile?.(rel, 'skipped', 0);
  const copied: string[] = [];
  for (const file of toCopy) {
    try {
      await dest.put(
        file,
        isVersionedMetadata(file.rel) || file.rel.startsWith('targets/') ? 'immutable' : 'mutable',
      );
    } catch (cause) {
      throw publishFailed(dest, file.rel, cause);
    }
    copied.push(file.rel);
    options.onFile?.(file.rel, 'copied', file.size);
  }
  // Only after the new timestamp is in place: clients that still hold the previous one may need
  // the files it names until then.
  const deleted: string[] = [];
  for (const rel of toDelete) {
    try {
      await dest.remove(rel);
    } catch (cause) {
      throw publishFailed(dest, rel, cause);
    }
    deleted.push(rel);
    options.onFile?.(rel, 'deleted', 0);
  }
  return { copied, skipped, deleted, bytes };
}

/**
 * `notsotuf publish DEST`: copies the repository to a folder (a web server's root, a mounted
 * share) with publishTo; each file goes to a temp name in DEST and is renamed into place.
 */
export async function publishRepository(
  repoDir: string,
  dest: string,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const inside = relative(resolve(repoDir), resolve(dest));
  if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
    throw new UsageError(
      'BAD_DESTINATION',
      `${dest} is inside the repository ${repoDir}: publish to a folder outside it`,
    );
  }
  await checkPublishDestination(dest, options.keyDir);
  return publishTo(repoDir, folderDestination(dest), options);
}

function isWithin(parent: string, child: string): boolean {
  const r = relative(resolve(parent), resolve(child));
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** How deep below DEST to look for private key files (a copied key folder, the project folder). */
const KEY_SCAN_DEPTH = 2;
const KEY_SCAN_MAX_ENTRIES = 10_000;

/**
 * DEST is served to everyone: it must not hold the key folder nor any private key file. Looks at
 * DEST and the folders up to KEY_SCAN_DEPTH below it (bounded), for `.key` files that are PEM
 * private keys: the project folder itself, or a key folder copied into the web root.
 */
export async function checkPublishDestination(dest: string, keyDir: string | undefined): Promise<void> {
  const refuse = (what: string): never => {
    throw new UsageError(
      'DEST_HOLDS_KEYS',
      `${dest} holds ${what}: publish to a folder of its own (it is served to everyone, private keys included), e.g. ../published`,
    );
  };
  if (keyDir !== undefined && isWithin(dest, keyDir))
    throw new UsageError(
      'DEST_HOLDS_KEYS',
      `${dest} contains the key folder ${keyDir}: publish to a folder of its own (it is served to everyone), e.g. ../published`,
    );
  let seen = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (++seen > KEY_SCAN_MAX_ENTRIES) return;
      const path = join(dir, e.name);
      if (e.isFile() && e.name.endsWith('.key') && (await isPrivateKeyFile(path)))
        refuse(`the private key ${path}`);
      if (e.isDirectory() && depth < KEY_SCAN_DEPTH) await walk(path, depth + 1);
    }
  };
  await walk(dest, 0);
}

async function isPrivateKeyFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (fh === undefined) return false;
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return /-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(head.subarray(0, bytesRead).toString('latin1'));
  } finally {
    await fh.close();
  }
}
