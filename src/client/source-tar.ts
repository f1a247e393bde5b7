import { rename, rm, stat } from 'node:fs/promises';
import type { Digest } from '../core/custom-metadata.js';
import { hashFolderAsTar, packTar } from '../archive/index.js';
import { tempPathFor } from '../io/temp-name.js';
import { cachedTarPath } from './state-layout.js';
import { makeDirs } from '../io/make-dirs.js';

/**
 * The uncompressed tar of the installed version: what the first patch of a chain applies to.
 * Either the cached copy kept after the last update (`tars/<version>.tar`), or, on a fresh install
 * with no cache, rebuilt from the install folder with the reproducible packer; the rebuilt tar is
 * used only when its sha256 equals the one the publisher signed (a modified install folder is not
 * a source we trust to patch from).
 */

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

/**
 * Packs the install folder into `tars/<version>.tar` (through a temp file) when it packs to exactly
 * the signed tar: 'cached' when it did, 'differs' when the folder packs to another tar (nothing is
 * kept), 'failed' when it could not be packed or written (a full or read-only disk, a file that
 * vanished).
 */
async function packIntoCache(
  tarsDir: string,
  installDir: string,
  version: string,
  signed: Digest,
): Promise<'cached' | 'differs' | 'failed'> {
  const cached = cachedTarPath(tarsDir, version);
  const tmp = tempPathFor(cached);
  try {
    await makeDirs(tarsDir);
    // Not flushed to disk: the cached tar is checked before each use (size here, sha256 when a
    // patch applies to it; a torn one makes the update fall back to the full archive), and on the
    // 187 MB Node.js runtime the flush made the rebuild and unpack that follow wait for the disk.
    const { tar } = await packTar(installDir, tmp, { sync: false });
    if (tar.sha256 !== signed.sha256 || tar.length !== signed.length) return 'differs';
    await rename(tmp, cached);
    return 'cached';
  } catch {
    return 'failed';
  } finally {
    // No tars/ folder to hold it (the 'failed' case) is no reason to fail.
    await rm(tmp, { force: true }).catch(() => undefined);
  }
}

/**
 * Whether a source tar can be had for `signed`: the cached tar has the signed length (its sha256
 * is checked when a patch applies to it), or the install folder packs to exactly the signed tar.
 * The folder is packed into the cache while it is hashed and the tar kept when it is the signed
 * one, so the update that follows does not read the folder a second time (on the Node.js runtime,
 * 187 MB, that second pass made a fresh install's patch update slower than the full archive).
 * Where the tar cannot be written, the folder is only hashed.
 */
export async function sourceTarAvailable(
  tarsDir: string,
  installDir: string,
  version: string,
  signed: Digest,
): Promise<boolean> {
  if ((await sizeOf(cachedTarPath(tarsDir, version))) === signed.length) return true;
  const packed = await packIntoCache(tarsDir, installDir, version, signed);
  if (packed !== 'failed') return packed === 'cached';
  try {
    const d = await hashFolderAsTar(installDir);
    return d.sha256 === signed.sha256 && d.length === signed.length;
  } catch {
    return false;
  }
}

/**
 * Returns a path to the current version's tar, rebuilding it into the cache when needed; undefined
 * when neither the cache nor the folder gives the signed tar.
 */
export async function ensureSourceTar(
  tarsDir: string,
  installDir: string,
  version: string,
  signed: Digest,
): Promise<string | undefined> {
  const cached = cachedTarPath(tarsDir, version);
  if ((await sizeOf(cached)) === signed.length) return cached;
  return (await packIntoCache(tarsDir, installDir, version, signed)) === 'cached' ? cached : undefined;
}
