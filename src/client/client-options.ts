import { isAbsolute, relative, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkAppName } from '../core/target-name.js';
import type { UpdatePlan } from '../core/plan.js';
import type { Channel } from '../core/version.js';
import { parseChannel, parseVersion } from '../core/version.js';
import type { FetchFn } from './fetcher.js';
import { handoverTimeoutProblem } from './install.js';

/** An update offered by `check()`: patches or full archive. */
export type Update = Exclude<UpdatePlan, { kind: 'none' }>;
export type CheckResult = UpdatePlan;

export type UpdateAndRestartResult =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'handed-over';
      readonly version: string;
      readonly via: 'patches' | 'full';
      readonly script: string;
      readonly log: string;
    };

/** What `firstInstall` did: put the newest release in place, or found a release there already. */
export type FirstInstallResult =
  | { readonly kind: 'installed'; readonly version: string; readonly downloadBytes: number }
  | { readonly kind: 'already-installed'; readonly version: string };

export interface ClientOptions {
  /** The app's name as published (`<appName>-<version>.tar.gz`), e.g. `myapp` or `myapp-linux-x64`. */
  readonly appName: string;
  /** The installed app folder (the folder an update replaces). */
  readonly installDir: string;
  /**
   * The version installed in installDir. Optional: the client records what it installs (with the
   * folder's fingerprint, `<stateDir>/installed.json`), and with no record it identifies the folder
   * by its reproducible tar digest among the signed releases. A record that still matches the folder
   * wins over this value.
   */
  readonly currentVersion?: string;
  /** The client's own state folder for this app (trusted metadata, cache, install id). Never share it between apps. */
  readonly stateDir: string;
  /** Base URL of the repository's metadata folder, e.g. `https://updates.example.com/metadata/`. */
  readonly metadataUrl: string;
  /** Base URL of the repository's targets folder. */
  readonly targetsUrl: string;
  /**
   * The trusted root the app ships: the bytes of `root.json`, or a path to it. It is copied into the
   * state folder on first run; after that the state's root (updated through TUF rotation) is used.
   */
  readonly trustedRoot: Uint8Array | string;
  /** Lowest release level accepted: `stable` (default), `rc`, `beta`, `alpha` or `dev`. */
  readonly channel?: Channel;
  /** Extra HTTP headers, e.g. `Authorization` for a private repository. */
  readonly headers?: Record<string, string>;
  /** The network (Node's global fetch by default): injectable for tests and proxies. */
  readonly fetch?: FetchFn;
  /** How long the new version has to confirm it started before it is rolled back (default 60 s; 0 = no health check). */
  readonly healthTimeoutSeconds?: number;
  /** How long the installer waits for the app to exit before giving up, nothing moved (default 300 s). */
  readonly waitTimeoutSeconds?: number;
  /** Fail a request when no byte arrives for this long, in milliseconds (default 30 s). */
  readonly stallTimeoutMs?: number;
  /** Limit for a whole request in milliseconds (default: 60 s for metadata, none for targets). */
  readonly requestTimeoutMs?: number;
}

/**
 * Progress of an update in bytes, for a progress bar, about ten calls a second at most (each
 * stage's first report and its end always come). `download`: every file of the update (resumed
 * bytes count as done); during `install`, then `rebuild` (bytes of the new version's tar written,
 * by patches or from the archive) and `unpack` (bytes of that tar unpacked), each from 0 to its total.
 */
export interface DownloadProgress {
  readonly stage: 'download' | 'rebuild' | 'unpack';
  readonly bytesDone: number;
  readonly totalBytes: number;
  /** Average rate of this stage, bytes per second (0 until known). */
  readonly bytesPerSecond: number;
  /** The file being downloaded or written now. */
  readonly file: string;
}

export interface DownloadOptions {
  readonly onProgress?: (progress: DownloadProgress) => void;
  readonly signal?: AbortSignal;
}

export interface InstallOptions extends DownloadOptions {
  /**
   * How the installer restarts the app after the swap. Default: the same command line this process
   * was started with (`process.execPath` and `process.argv`), in the same working folder. `false`:
   * no restart (and so no health check).
   */
  readonly restart?:
    { readonly command: string; readonly args: readonly string[]; readonly cwd?: string } | false;
  /** The process the installer waits for (default: this process). */
  readonly pid?: number;
  /** Called as install enters each stage (for a status line; `download` covers resumed or skipped files too). */
  readonly onStage?: (stage: InstallStage) => void;
}

export type InstallStage = 'download' | 'source' | 'rebuild' | 'unpack' | 'staged';

/** What `install` returns: the update is staged; the app quits when it is ready. */
export interface StagedUpdate {
  readonly version: string;
  /** How the new tar was built: by the patch chain, or by the full archive (including a fallback). */
  readonly via: 'patches' | 'full';
  /** Whether a patch failed and the full archive was used instead. */
  readonly fellBack: boolean;
  /**
   * Starts the installer, which waits for this process to exit, swaps the folders and restarts the
   * app. Call it when the app is ready to quit, then exit the process: the library never exits it.
   */
  readonly quitAndInstall: () => Promise<{ readonly script: string; readonly log: string }>;
}

export const DEFAULT_HEALTH_TIMEOUT_SECONDS = 60;
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 300;

/** The options a Client works with, checked and normalised. */
export interface CheckedOptions {
  readonly appName: string;
  readonly installDir: string;
  readonly stateDir: string;
  readonly channel: Channel;
  /** The version the app says it is (options.currentVersion), normalised, if it says. */
  readonly givenVersion: string | undefined;
}

/** Checks the options a Client is made with: a bad one is a UsageError that names it. */
export function checkClientOptions(options: ClientOptions): CheckedOptions {
  const appName = checkAppName(options.appName);
  const givenVersion =
    options.currentVersion === undefined ? undefined : parseVersion(options.currentVersion).text;
  const channel = parseChannel(options.channel ?? 'stable');
  for (const [key, value] of [
    ['installDir', options.installDir],
    ['stateDir', options.stateDir],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new UsageError('MISSING_OPTION', `the client needs ${key}`);
    }
  }
  for (const key of ['metadataUrl', 'targetsUrl'] as const) {
    try {
      new URL(options[key]);
    } catch (cause) {
      throw new UsageError('INVALID_URL', `${key} "${options[key]}" is not a URL`, { cause });
    }
  }
  const installDir = resolve(options.installDir);
  const stateDir = resolve(options.stateDir);
  if (!isAbsolute(installDir)) throw new UsageError('MISSING_OPTION', 'installDir must be a folder path');
  const rel = relative(installDir, stateDir);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new UsageError(
      'STATE_IN_INSTALL_DIR',
      `stateDir ${stateDir} is inside installDir ${installDir}: an update replaces that folder, so keep the state elsewhere (e.g. the user's app data folder)`,
    );
  }
  for (const key of ['healthTimeoutSeconds', 'waitTimeoutSeconds'] as const) {
    const value = options[key];
    const problem = value === undefined ? undefined : handoverTimeoutProblem(key, value);
    if (problem !== undefined) throw new UsageError('INVALID_OPTION', problem);
  }
  return { appName, installDir, stateDir, channel, givenVersion };
}
