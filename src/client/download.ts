import { rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../errors.js';
import { fsError } from '../io/fs-error.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import type { PlanTargetInput } from '../core/plan.js';
import { targetSha256 } from '../core/plan.js';
import type { DownloadOptions } from './client-options.js';
import type { Fetcher } from './fetcher.js';
import { localWriteError } from './local-write-error.js';
import type { TrustedTarget } from './tuf/index.js';
import { throttleProgress } from './progress.js';
import { partialPathFor } from './state-layout.js';
import { verifyTargetFile } from './tuf/index.js';
import { makeDirs } from '../io/make-dirs.js';

/**
 * Downloads verified target files into `downloadsDir`. Each file goes to `<name>.partial` first
 * (resumed from its current size with an HTTP Range request), is checked against the signed length
 * and sha256, and only then renamed to its final name. A file already there under its final name
 * is checked again before it counts as done (the disk is not trusted more than the network).
 */

/** Local file name of a target: its signed sha256 and name, so two versions never collide. */
export function downloadFileName(target: PlanTargetInput): string {
  const sha = targetSha256(target);
  if (sha === undefined) {
    throw new DataError(
      'NO_SHA256',
      `target ${target.path} has no sha256 in signed metadata; the client needs one`,
    );
  }
  return `${sha.slice(0, 16)}.${target.path}`;
}

export function downloadPath(downloadsDir: string, target: PlanTargetInput): string {
  return join(downloadsDir, downloadFileName(target));
}

/**
 * The size of a download or its `.partial`; undefined only when there is no such file. Any other
 * failure (a symlink loop, a name too long, no permission) is not "absent": downloading again
 * would write over or beside something we cannot read, so it stops with a clear error.
 */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(error, path, {
      code: 'READ_FAILED',
      message: (e) =>
        `could not read ${path} (${e.message}): check that the app's state folder is readable, ` +
        `and remove this file if it is not a download.`,
    });
  }
}

async function isVerified(path: string, target: TrustedTarget): Promise<boolean> {
  if ((await sizeOf(path)) !== target.length) return false;
  try {
    await verifyTargetFile(path, target);
    return true;
  } catch {
    await rm(path, { force: true });
    return false;
  }
}

export interface DownloadEdges {
  readonly fetcher: Fetcher;
  readonly targetUrl: (target: TrustedTarget) => string;
  readonly downloadsDir: string;
  /**
   * Final paths this process verified and has not given away since (kept by one Client): skips
   * hashing a big file twice between `download` and `install`. The patch engine and gunzip check
   * their inputs' digests again anyway.
   */
  readonly verified?: Set<string>;
  /** Monotonic clock in milliseconds (for the rate). */
  readonly now?: () => number;
}

/** Downloads every target (in order); resolves with their verified local paths. */
export async function downloadTargets(
  targets: readonly TrustedTarget[],
  edges: DownloadEdges,
  options: DownloadOptions = {},
): Promise<string[]> {
  const now = edges.now ?? (() => performance.now());
  await makeDirs(edges.downloadsDir);
  const totalBytes = targets.reduce((sum, t) => sum + t.length, 0);
  for (const t of targets) {
    if (t.length > CLIENT_LIMITS.maxTargetBytes) {
      throw new DataError(
        'TARGET_TOO_LARGE',
        `target ${t.path} is signed as ${t.length} bytes, over the client's limit of ${CLIENT_LIMITS.maxTargetBytes}`,
      );
    }
  }
  let doneBefore = 0;
  let transferred = 0;
  const started = now();
  const onProgress = options.onProgress && throttleProgress(options.onProgress, 100, now);
  const report = (file: string, inFile: number): void => {
    const seconds = (now() - started) / 1000;
    onProgress?.({
      stage: 'download',
      // A server that ignored Range resends from 0: never report more than the whole.
      bytesDone: Math.min(doneBefore + inFile, totalBytes),
      totalBytes,
      bytesPerSecond: seconds > 0 ? transferred / seconds : 0,
      file,
    });
  };
  const paths: string[] = [];
  for (const target of targets) {
    options.signal?.throwIfAborted();
    const finalPath = downloadPath(edges.downloadsDir, target);
    paths.push(finalPath);
    const known = edges.verified?.has(finalPath) === true && (await sizeOf(finalPath)) === target.length;
    if (known || (await isVerified(finalPath, target))) {
      edges.verified?.add(finalPath);
      doneBefore += target.length;
      report(target.path, 0);
      continue;
    }
    const partial = partialPathFor(finalPath);
    let offset = (await sizeOf(partial)) ?? 0;
    if (offset > target.length) {
      // More bytes than signed: this partial file cannot be a prefix of the target.
      await truncate(partial, 0);
      offset = 0;
    }
    let inFile = offset;
    report(target.path, inFile);
    try {
      // A complete partial file makes no request (the fetcher only trims it to the signed length);
      // an empty target is one request for no bytes.
      await edges.fetcher.downloadTo(edges.targetUrl(target), partial, {
        offset,
        maxLength: target.length,
        ...(options.signal ? { signal: options.signal } : {}),
        onBytes: (n) => {
          inFile += n;
          // A restart from 0 (a server that ignored Range) is reported as -offset: those bytes
          // came from an earlier run, not over this link, so the rate does not count them.
          if (n > 0) transferred += n;
          report(target.path, inFile);
        },
      });
    } catch (error) {
      // Refused data (e.g. more bytes than signed) is not a prefix worth resuming from;
      // network failures and cancelling keep the partial file for the next attempt.
      if (error instanceof DataError) await rm(partial, { force: true });
      throw localWriteError(error, partial);
    }
    try {
      await verifyTargetFile(partial, target);
    } catch (error) {
      // Wrong bytes are never resumed from: start this file over next time.
      await rm(partial, { force: true });
      throw error;
    }
    await rename(partial, finalPath);
    edges.verified?.add(finalPath);
    doneBefore += target.length;
    report(target.path, 0);
  }
  return paths;
}
