import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { DataError, InstallError, UsageError, messageOf } from '../errors.js';
import { tempNameFor } from './atomic-file.js';
import { inPublishOrder } from './repository-writer.js';
import { verifyRepository } from './verify.js';

export interface PublishOptions {
  readonly now?: Date;
  /** Copy even when `status` finds problems (clients will refuse such a repository). */
  readonly unsafeSkipVerify?: boolean;
  /** Called after each file copied or skipped (for progress). */
  readonly onFile?: (rel: string, action: 'copied' | 'skipped') => void;
  /**
   * After publishing, remove from DEST the targets and snapshot/targets metadata that the
   * repository no longer has (after `release prune`). Roots and other files are never removed.
   */
  readonly deleteExtra?: boolean;
}

export interface PublishResult {
  readonly copied: readonly string[];
  readonly skipped: readonly string[];
  /** Files removed from DEST with deleteExtra. */
  readonly deleted: readonly string[];
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.tmp-')) continue;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(join(dir, entry.name), rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    if (x.size !== y.size) return false;
    return (await sha256File(a)) === (await sha256File(b));
  } catch {
    return false;
  }
}

async function versionOf(path: string): Promise<{ version: number; bytes: Buffer } | undefined> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.size > 1024 * 1024) return { version: Number.MAX_SAFE_INTEGER, bytes: Buffer.alloc(0) };
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  try {
    const v = (JSON.parse(bytes.toString('utf8')) as { signed?: { version?: unknown } }).signed?.version;
    return typeof v === 'number' ? { version: v, bytes } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to publish over a destination that holds a newer (or a different, same-version) timestamp
 * or root: someone published from another copy, and copying ours would roll clients back.
 */
async function checkNotOlder(repoDir: string, dest: string): Promise<void> {
  for (const name of ['timestamp.json', 'root.json']) {
    const ours = await versionOf(join(repoDir, 'metadata', name));
    const theirs = await versionOf(join(dest, 'metadata', name));
    if (ours === undefined || theirs === undefined) continue;
    if (
      theirs.version > ours.version ||
      (theirs.version === ours.version && !theirs.bytes.equals(ours.bytes))
    ) {
      throw new UsageError(
        'DESTINATION_NEWER',
        `${dest} already has ${name} version ${theirs.version} (this repository has ${ours.version}${theirs.version === ours.version ? ', with other contents' : ''}): it was published from another copy; get that copy first, nothing was published`,
      );
    }
  }
}

/**
 * `notsotuf publish DEST`: copies the repository to a folder (a mounted share, a bucket sync
 * folder) in the order that never shows a client a torn repository: targets, versioned metadata,
 * root.json, timestamp.json last. Each file goes to a temp name in DEST and is renamed into place;
 * files already there with equal bytes are skipped. The repository is verified first: publishing
 * one that clients would refuse is refused.
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
  if (options.unsafeSkipVerify !== true) {
    const report = await verifyRepository(repoDir, options.now === undefined ? {} : { now: options.now });
    if (!report.ok) {
      throw new DataError(
        'REPOSITORY_INVALID',
        `the repository does not verify, nothing was published:\n  ${report.problems.map((p) => p.message).join('\n  ')}`,
      );
    }
  }
  await checkNotOlder(repoDir, dest);
  const copied: string[] = [];
  const skipped: string[] = [];
  const files = inPublishOrder((await listFiles(repoDir)).map((rel) => ({ rel })));
  for (const { rel } of files) {
    const from = join(repoDir, ...rel.split('/'));
    const to = join(dest, ...rel.split('/'));
    if (await sameFile(from, to)) {
      skipped.push(rel);
      options.onFile?.(rel, 'skipped');
      continue;
    }
    const tmp = tempNameFor(to);
    try {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, tmp);
      await rename(tmp, to);
    } catch (cause) {
      await rm(tmp, { force: true });
      throw new InstallError(
        'PUBLISH_FAILED',
        `copying ${rel} to ${dest} failed: ${messageOf(cause)}; run publish again to finish`,
        { cause },
      );
    }
    copied.push(rel);
    options.onFile?.(rel, 'copied');
  }
  const deleted: string[] = [];
  if (options.deleteExtra === true) {
    // Only after the new timestamp is in place, and only files that are ours by name and not in
    // the repository any more (pruned): DEST may hold other things, and every root is kept.
    const present = new Set(files.map((f) => f.rel));
    for (const rel of await listFiles(dest).catch(() => [] as string[])) {
      const ours =
        /^metadata\/\d+\.(targets|snapshot)\.json$/.test(rel) || /^targets\/[0-9a-f]{64}\.[^/]+$/.test(rel);
      if (ours && !present.has(rel)) {
        await rm(join(dest, ...rel.split('/')), { force: true });
        deleted.push(rel);
      }
    }
  }
  return { copied, skipped, deleted };
}
