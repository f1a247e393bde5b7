/**
 * Every path the client writes, in one place: its own state folder (one per app, never shared) and
 * the folders an update puts beside the install folder. Nothing here touches the disk.
 *
 *   metadata/            trusted TUF metadata (the TUF layer's)
 *   install-id           the stable per-install rollout id, a number in [0, 100)
 *   state.json           skipped (rolled-back) versions, versions whose patches failed, the pending handover
 *   downloads/           verified downloads `<sha256 prefix>.<target>` and resumable `<...>.partial`
 *   tars/<version>.tar   the uncompressed tar of the installed version (what the next patch applies to)
 *   work/                temporary files of one apply; removed afterwards
 *   handover/            the installer's script, log, result and confirm files (the installer's)
 *   .notsotuf-state      marks the folder as this client's own (cleanup only runs in such a folder)
 *   update.lock          the pid of the process updating right now (update-lock.ts)
 *   staged.pid           the pid of the process holding a staged update (its staging folder is kept)
 *   installed.json       the installed version with the install folder's fingerprint (installed-record.ts)
 *
 * Beside the install folder `<app>` (same volume, so the swap is a rename):
 *
 *   <app>.notsotuf-staging-<version>   the new version, unpacked, waiting for the installer
 *   <app>.notsotuf-backup-<version>    the old version while the installer swaps (kept for a roll back)
 *   <app>.failed-<version>             a new version the installer rolled back (posix and Windows scripts)
 */
import { join } from 'node:path';
import { UsageError } from '../errors.js';

export interface StateLayout {
  readonly root: string;
  readonly metadataDir: string;
  readonly downloadsDir: string;
  readonly tarsDir: string;
  readonly workDir: string;
  readonly handoverDir: string;
  readonly stateFile: string;
  readonly installIdFile: string;
  readonly markerFile: string;
  readonly updateLockFile: string;
  readonly stagedPidFile: string;
  readonly installedRecordFile: string;
}

/** The marker file's name: a folder holding it is a notsotuf client's state folder. */
export const STATE_MARKER = '.notsotuf-state';

/** The names directly in the state folder that this layout uses (the lock and pid files come and go). */
export const LAYOUT_NAMES: ReadonlySet<string> = new Set([
  'metadata',
  'downloads',
  'tars',
  'work',
  'handover',
  'state.json',
  'install-id',
  'installed.json',
]);

export function stateLayout(root: string): StateLayout {
  return {
    root,
    metadataDir: join(root, 'metadata'),
    downloadsDir: join(root, 'downloads'),
    tarsDir: join(root, 'tars'),
    workDir: join(root, 'work'),
    handoverDir: handoverDir(root),
    stateFile: join(root, 'state.json'),
    installIdFile: join(root, 'install-id'),
    markerFile: join(root, STATE_MARKER),
    updateLockFile: join(root, 'update.lock'),
    stagedPidFile: join(root, 'staged.pid'),
    installedRecordFile: join(root, 'installed.json'),
  };
}

/** The cached uncompressed tar of `version`. */
export function cachedTarPath(tarsDir: string, version: string): string {
  return join(tarsDir, `${version}.tar`);
}

/** Where a download is continued until it is verified (then renamed to `finalPath`). */
export function partialPathFor(finalPath: string): string {
  return `${finalPath}.partial`;
}

/** The trusted metadata file `name` (e.g. `root.json`, `timestamp.json`) in the state folder. */
export function metadataFile(layout: StateLayout, name: string): string {
  return join(layout.metadataDir, name);
}

// The hand-over's files are named from the state folder alone: the installer scripts get only it.

export function handoverDir(stateDir: string): string {
  return join(stateDir, 'handover');
}

/** A version as it may appear in a file name: normalised PEP 440 text never leaves this set. */
const VERSION_IN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,127}$/;

/** The file the new version writes (through `client.confirm()`) to say it started well. */
export function confirmFilePath(stateDir: string, version: string): string {
  if (!VERSION_IN_FILE_NAME.test(version)) {
    throw new UsageError(
      'INVALID_VERSION',
      `"${version}" cannot be used in a file name: pass a normalised version`,
    );
  }
  return join(handoverDir(stateDir), `confirmed-${version}`);
}

export function handoverResultPath(stateDir: string): string {
  return join(handoverDir(stateDir), 'result.json');
}

export function handoverLogPath(stateDir: string): string {
  return join(handoverDir(stateDir), 'install.log');
}

/** Where one hand-over's files go (all in <stateDir>/handover/). */
export interface HandoverFiles {
  readonly dir: string;
  /** The generated script (removes itself when done). */
  readonly script: string;
  /** What the script did, step by step. */
  readonly log: string;
  /** stdout and stderr of the app the script restarts (it has no terminal any more). */
  readonly appLog: string;
  /** Windows only: the small script that starts the app and reports its exit (install.windows.ts). */
  readonly runner: string;
  /** The running installer's pid, removed when it has written its result: one installer at a time. */
  readonly pidFile: string;
}

export function handoverFiles(stateDir: string, platform: 'posix' | 'windows'): HandoverFiles {
  const dir = handoverDir(stateDir);
  return {
    dir,
    script: join(dir, platform === 'windows' ? 'install.cmd' : 'install.sh'),
    log: handoverLogPath(stateDir),
    appLog: join(dir, 'app-output.log'),
    runner: join(dir, 'restart.cmd'),
    pidFile: join(dir, 'installer.pid'),
  };
}

// Beside the install folder.

/** The prefixes of the siblings of the install folder `<base>` that an update makes, before a version. */
export function siblingPrefixes(base: string): { staging: string; backup: string; failed: string } {
  return {
    staging: `${base}.notsotuf-staging-`,
    backup: `${base}.notsotuf-backup-`,
    failed: `${base}.failed-`,
  };
}

/** Staging and backup folders live beside the install folder (same volume: the swap is a rename). */
export function stagingDirFor(installDir: string, version: string): string {
  return `${siblingPrefixes(installDir).staging}${version}`;
}

export function backupDirFor(installDir: string, version: string): string {
  return `${siblingPrefixes(installDir).backup}${version}`;
}

/** Where the installer moves a new version that it rolled back. */
export function failedDirFor(installDir: string, version: string): string {
  return `${siblingPrefixes(installDir).failed}${version}`;
}
