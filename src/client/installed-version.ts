/**
 * Which version is in the install folder, when neither the client's record (installed-record.ts)
 * nor the app says: the folder's reproducible tar digest among the signed releases. And the
 * folder's identity (device and inode), which tells a folder swapped in by the installer from the
 * one this process started from.
 */
import { readdir, stat } from 'node:fs/promises';
import { UsageError, messageOf } from '../errors.js';
import { hashFolderAsTar } from '../archive/index.js';
import type { PlanTargetInput } from '../core/plan.js';
import { appNotInRepository, appReleases, releaseWithTar } from '../core/plan.js';
import { folderFingerprint, readInstalledRecord, writeInstalledRecord } from './installed-record.js';
import type { StateLayout } from './state-layout.js';
import type { PendingHandover } from './state.js';

/** What the install folder holds (before a first install, or when its version must be found). */
export async function folderContents(path: string): Promise<'missing' | 'empty' | 'files' | 'not-a-folder'> {
  let s;
  try {
    s = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (!s.isDirectory()) return 'not-a-folder';
  return (await readdir(path)).length === 0 ? 'empty' : 'files';
}

/** Device and inode of a folder (kept by a rename, new for a folder swapped in), or undefined. */
export async function folderIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

export interface InstallFolder {
  readonly appName: string;
  readonly installDir: string;
  readonly layout: StateLayout;
}

/**
 * The version whose signed tar the install folder packs to (or the recorded version, when the folder
 * packs to the recorded tar: a folder moved back by a roll back, a release since pruned), recorded
 * so that the next start is cheap. UsageError INSTALL_DIR_MISSING or NOT_A_RELEASE when there is none.
 */
export async function identifyInstalledVersion(
  folder: InstallFolder,
  targets: readonly PlanTargetInput[],
): Promise<string> {
  const { appName, installDir, layout } = folder;
  const contents = await folderContents(installDir).catch(() => 'missing' as const);
  if (contents !== 'files')
    throw new UsageError(
      'INSTALL_DIR_MISSING',
      `nothing is installed in ${installDir}: install the app first (notsotuf install --config update.json), or set installDir to the folder it is installed in`,
    );
  const notARelease = (why: string, cause?: unknown): UsageError =>
    new UsageError(
      'NOT_A_RELEASE',
      `the install folder ${installDir} ${why}, so the installed version is not known: set currentVersion in update.json (or --current-version) to the version installed there, or install the app again into an empty folder (notsotuf install)`,
      cause === undefined ? {} : { cause },
    );
  const archives = appReleases(targets, appName).archives;
  if (archives.size === 0) throw appNotInRepository(targets, appName);
  const fingerprint = await folderFingerprint(installDir);
  let digest;
  try {
    digest = await hashFolderAsTar(installDir);
  } catch (cause) {
    throw notARelease(`cannot be packed (${messageOf(cause)})`, cause);
  }
  const record = await readInstalledRecord(layout);
  const match = releaseWithTar(archives, digest);
  // The record's version still counts when the folder packs to its tar (a folder moved back by a
  // roll back, a release since pruned from the repository).
  const version =
    match?.meta.version ??
    (record !== undefined && record.tar.sha256 === digest.sha256 && record.tar.length === digest.length
      ? record.version
      : undefined);
  if (version === undefined)
    throw notARelease(
      `matches no signed release of ${appName} (its files differ from every published version)`,
    );
  if (fingerprint !== undefined)
    await writeInstalledRecord(layout, {
      version,
      tar: { sha256: digest.sha256, length: digest.length },
      installDir,
      fingerprint,
    });
  return version;
}

/** Whether the installer has swapped this pending hand-over's staged folder into place. */
export async function pendingInPlace(installDir: string, p: PendingHandover): Promise<boolean> {
  return p.stagingIdentity !== undefined && (await folderIdentity(installDir)) === p.stagingIdentity;
}

/**
 * Records the pending hand-over's version as installed, when its staged folder is in place.
 * Resolves with that version, or undefined when nothing was recorded.
 */
export async function recordInPlace(
  layout: StateLayout,
  installDir: string,
  p: PendingHandover,
): Promise<string | undefined> {
  if (p.tar === undefined || !(await pendingInPlace(installDir, p))) return undefined;
  const fingerprint = await folderFingerprint(installDir);
  if (fingerprint === undefined) return undefined;
  await writeInstalledRecord(layout, { version: p.version, tar: p.tar, installDir, fingerprint });
  return p.version;
}
