import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { DataError, InstallError, UsageError, messageOf } from '../errors.js';
import { hashFolderAsTar, unpackArchive } from '../archive/index.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import type { PlanTargetInput, UpdatePlan } from '../core/plan.js';
import {
  appNotInRepository,
  appReleases,
  chooseFirstInstall,
  planUpdate,
  releaseWithTar,
} from '../core/plan.js';
import { checkAppName } from '../core/target-name.js';
import type { Channel } from '../core/version.js';
import { parseChannel, parseVersion } from '../core/version.js';
import { PATCH_FORMATS } from '../diff/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { cleanSettled } from './cache-hygiene.js';
import type {
  ClientOptions,
  DownloadOptions,
  DownloadProgress,
  InstallOptions,
  InstallStage,
  StagedUpdate,
} from './client-options.js';
import { downloadTargets } from './download.js';
import type { Fetcher } from './fetcher.js';
import { createFetcher } from './fetcher.js';
import type { HandoverResult } from './handover.js';
import { readHandoverResult } from './handover.js';
import { handoverTimeoutProblem, isRunning, startHandover } from './install.js';
import { installerDied, restoreInterruptedSwap } from './interrupted-swap.js';
import {
  folderFingerprint,
  readInstalledRecord,
  recordedVersion,
  writeInstalledRecord,
} from './installed-record.js';
import { rebuildTar } from './rebuild-tar.js';
import { throttleProgress } from './progress.js';
import { acquireUpdateLock } from './update-lock.js';
import { ensureSourceTar, sourceTarAvailable } from './source-tar.js';
import type { ClientState, PendingHandover } from './state.js';
import { claimStateDir, installRolloutId, readState, readTextIfSmall, writeState } from './state.js';
import type { StateLayout } from './state-layout.js';
import {
  backupDirFor,
  cachedTarPath,
  confirmFilePath,
  handoverResultPath,
  metadataFile,
  stagingDirFor,
  stateLayout,
} from './state-layout.js';
import { TufClient } from './tuf/index.js';
import { rootMismatchError } from './tuf/root-mismatch.js';

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

/** What the install folder holds before a first install. */
async function folderContents(path: string): Promise<'missing' | 'empty' | 'files' | 'not-a-folder'> {
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

const DEFAULT_HEALTH_TIMEOUT_SECONDS = 60;
const DEFAULT_WAIT_TIMEOUT_SECONDS = 300;
const STALE_HANDOVER_MARGIN_SECONDS = 600;

async function readTrustedRoot(root: Uint8Array | string): Promise<Uint8Array> {
  if (typeof root !== 'string') return root;
  let handle;
  try {
    handle = await open(root, 'r');
  } catch (cause) {
    throw new UsageError(
      'TRUSTED_ROOT_MISSING',
      `cannot read the trusted root ${root}: ship root.json with the app`,
      {
        cause,
      },
    );
  }
  try {
    const { size } = await handle.stat();
    if (size > CLIENT_LIMITS.maxRootBytes) {
      throw new DataError(
        'TOO_LONG',
        `trusted root ${root} is ${size} bytes, over ${CLIENT_LIMITS.maxRootBytes}`,
      );
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Whether the process that staged the last update still runs (it may still call quitAndInstall). */
async function stagedByLiveProcess(layout: StateLayout): Promise<boolean> {
  const text = await readTextIfSmall(layout.stagedPidFile).catch(() => undefined);
  const pid = Number(text?.trim());
  if (
    text !== undefined &&
    /^\d{1,10}\s*$/.test(text) &&
    Number.isSafeInteger(pid) &&
    pid > 0 &&
    isRunning(pid)
  )
    return true;
  await rm(layout.stagedPidFile, { force: true });
  return false;
}

/** Device and inode of a folder (kept by a rename, new for a folder swapped in), or undefined. */
async function folderIdentity(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}

/** Runs `fn` once; later calls get the first call's promise (a second installer must never start). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= fn());
}

/**
 * How this process was started, to start the new version the same way: `node [flags] script args`
 * for a script; for a single executable (Node SEA, where argv[1] repeats the executable) or an
 * Electron app, the executable and the user's arguments.
 */
function ownCommandLine(): { command: string; args: string[]; cwd: string } {
  const rest = process.argv.slice(1);
  const args = rest[0] === process.execPath ? rest.slice(1) : rest;
  return { command: process.execPath, args: [...process.execArgv, ...args], cwd: process.cwd() };
}

/**
 * The client side of notsotuf, inside the app: check for an update, download it (resumable,
 * verified), rebuild and stage the new version, and hand over to the installer that swaps the
 * folders once the app has exited. It never prompts and never exits the process: `install`
 * returns `quitAndInstall`, and the app decides when to quit.
 */
export class Client {
  readonly appName: string;
  readonly installDir: string;
  readonly stateDir: string;
  readonly channel: Channel;
  readonly #options: ClientOptions;
  readonly #layout: StateLayout;
  readonly #fetcher: Fetcher;
  #tuf: TufClient | undefined;
  #settled: Promise<void> | undefined;
  #lastResult: HandoverResult | undefined;
  readonly #verified = new Set<string>();
  /** The install folder this process started from (device and inode), recorded on the first settle. */
  #installIdentity: string | undefined;
  /** The version the app says it is (options.currentVersion), if it says. */
  readonly #givenVersion: string | undefined;
  /** The version in the install folder by the client's own record or its tar digest, once known. */
  #knownVersion: string | undefined;
  /** The version whose signed tar the install folder was just found to pack to (no second hash). */
  #folderPacksTo: string | undefined;

  constructor(options: ClientOptions) {
    this.appName = checkAppName(options.appName);
    this.#givenVersion =
      options.currentVersion === undefined ? undefined : parseVersion(options.currentVersion).text;
    this.channel = parseChannel(options.channel ?? 'stable');
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
    this.installDir = resolve(options.installDir);
    this.stateDir = resolve(options.stateDir);
    if (!isAbsolute(this.installDir))
      throw new UsageError('MISSING_OPTION', 'installDir must be a folder path');
    const rel = relative(this.installDir, this.stateDir);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new UsageError(
        'STATE_IN_INSTALL_DIR',
        `stateDir ${this.stateDir} is inside installDir ${this.installDir}: an update replaces that folder, so keep the state elsewhere (e.g. the user's app data folder)`,
      );
    }
    for (const key of ['healthTimeoutSeconds', 'waitTimeoutSeconds'] as const) {
      const value = options[key];
      const problem = value === undefined ? undefined : handoverTimeoutProblem(key, value);
      if (problem !== undefined) throw new UsageError('INVALID_OPTION', problem);
    }
    this.#options = options;
    this.#layout = stateLayout(this.stateDir);
    this.#fetcher = createFetcher({
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    });
  }

  /**
   * The installed version: the client's own record of the install folder when it still matches the
   * folder (it wins over a stale `currentVersion`), else `currentVersion`, else the version found by
   * the folder's tar digest on the first `check()`. Undefined until known.
   */
  get currentVersion(): string | undefined {
    return this.#knownVersion ?? this.#givenVersion;
  }

  /** The installer's result that this start found and recorded (installed, rolled back or failed), if any. */
  get lastHandover(): HandoverResult | undefined {
    return this.#lastResult;
  }

  /**
   * Checks the repository (TUF refresh: root chain, timestamp, snapshot, targets) and plans the
   * update. On the first check of a freshly installed version it also confirms that version started.
   */
  async check(options: { signal?: AbortSignal } = {}): Promise<CheckResult> {
    await this.#settle();
    const state = await readState(this.#layout);
    const p = state.pending;
    if (p !== undefined && (p.version === this.currentVersion || (await this.#pendingInPlace(p))))
      await this.confirm();
    options.signal?.throwIfAborted();
    const tuf = await this.#refreshedTuf(true);
    const targets = await tuf.listTargets();
    const currentVersion = await this.#installedVersion(targets);
    const skipped = [...state.skipped];
    // While a handover is in flight (or its result not yet written), never offer its version again.
    if (state.pending !== undefined && state.pending.version !== currentVersion)
      skipped.push(state.pending.version);
    const input = {
      app: this.appName,
      currentVersion,
      channel: this.channel,
      rolloutId: await installRolloutId(this.#layout),
      skippedVersions: skipped,
      noPatchesTo: state.noPatchesTo,
      patchFormats: PATCH_FORMATS,
    };
    const optimistic = planUpdate(targets, { ...input, sourceTarAvailable: true });
    if (optimistic.kind !== 'patches') return optimistic;
    // Only now is it worth hashing the install folder (when no cached tar exists).
    const current = appReleases(targets, this.appName).archives.get(currentVersion);
    const available =
      current !== undefined &&
      (this.#folderPacksTo === currentVersion ||
        (await sourceTarAvailable(this.#layout.tarsDir, this.installDir, currentVersion, current.meta.tar)));
    return available ? optimistic : planUpdate(targets, { ...input, sourceTarAvailable: false });
  }

  /**
   * Downloads every file of the update into the state folder: resumable (`.partial` files and HTTP
   * Range), cancellable (`signal`), each file checked against its signed length and sha256.
   */
  async download(update: Update, options: DownloadOptions = {}): Promise<void> {
    await this.#settle();
    const release = await acquireUpdateLock(this.stateDir);
    try {
      await this.#download(update, options);
    } finally {
      await release();
    }
  }

  async #download(update: Update, options: DownloadOptions): Promise<void> {
    const tuf = await this.#refreshedTuf();
    const targets = update.kind === 'patches' ? update.chain.map((s) => s.target) : [update.archive.target];
    await downloadTargets(
      targets,
      {
        fetcher: this.#fetcher,
        targetUrl: (t) => tuf.targetUrl(t),
        downloadsDir: this.#layout.downloadsDir,
        verified: this.#verified,
      },
      options,
    );
  }

  /**
   * Downloads (or resumes) the update, rebuilds the new version's tar (patch chain from the current
   * tar, else the full archive; a failed patch falls back to the full archive and is remembered),
   * unpacks it strictly into a staging folder beside the install folder, and returns
   * `quitAndInstall` for the app to call when it is ready to quit.
   */
  async install(update: Update, options: InstallOptions = {}): Promise<StagedUpdate> {
    await this.#settle();
    const release = await acquireUpdateLock(this.stateDir);
    try {
      return await this.#install(update, options);
    } finally {
      await release();
    }
  }

  async #install(update: Update, options: InstallOptions): Promise<StagedUpdate> {
    const tuf = await this.#refreshedTuf();
    const edges = {
      fetcher: this.#fetcher,
      targetUrl: (t: Parameters<TufClient['targetUrl']>[0]) => tuf.targetUrl(t),
      downloadsDir: this.#layout.downloadsDir,
      verified: this.#verified,
    };
    const dl = { ...options };
    const layout = this.#layout;
    const currentVersion = await this.#installedVersion(await tuf.listTargets());
    await this.#checkInstallDirUnchanged(currentVersion);
    // Another instance handed this version over already: its installer may swap the staging folder
    // at any moment, so it must not be removed and rebuilt under it.
    if ((await readState(layout)).pending?.version === update.version)
      throw new InstallError(
        'HANDOVER_PENDING',
        `version ${update.version} is already handed over to the installer, which installs it once the app exits: nothing to do`,
      );
    await rm(layout.workDir, { recursive: true, force: true });
    await mkdir(layout.workDir, { recursive: true });

    let chain: { meta: (typeof update & { kind: 'patches' })['chain'][number]['meta']; path: string }[] = [];
    let sourceTar: string | undefined;
    let patchFailure: unknown;
    const stage = options.onStage ?? (() => undefined);
    stage('download');
    if (update.kind === 'patches') {
      try {
        const paths = await downloadTargets(
          update.chain.map((s) => s.target),
          edges,
          dl,
        );
        chain = update.chain.map((s, i) => ({ meta: s.meta, path: paths[i] ?? '' }));
      } catch (error) {
        // A patch that does not match its signed hash (corrupted on the server or a CDN) is a
        // patch failure like any other: take the full archive, which is verified the same way.
        // Network failures and cancelling are not: they propagate (retry later; downloads resume).
        if (!(error instanceof DataError)) throw error;
        patchFailure = error;
      }
      const current = appReleases(await tuf.listTargets(), this.appName).archives.get(currentVersion);
      if (current !== undefined && patchFailure === undefined) {
        stage('source');
        sourceTar = await ensureSourceTar(layout.tarsDir, this.installDir, currentVersion, current.meta.tar);
      }
    }
    stage('rebuild');
    const tarFile = `${this.appName}-${update.version}.tar`;
    const rebuildProgress = workProgress('rebuild', tarFile, options.onProgress);
    const rebuilt = await rebuildTar({
      workDir: layout.workDir,
      release: update.release,
      chain,
      ...(rebuildProgress ? { onProgress: rebuildProgress } : {}),
      ...(sourceTar !== undefined ? { sourceTar } : {}),
      fullArchive: async () => {
        // The patches failed (or were refused): remember it before the archive is fetched, so a
        // retry after a failed archive too does not download the same bad patches again.
        if (update.kind === 'patches') await rememberNoPatches(layout, update.version);
        // After patches, the archive's bytes continue the same progress (done and total grow).
        const before = update.kind === 'patches' ? update.downloadBytes : 0;
        const onProgress = options.onProgress;
        const progress = onProgress
          ? {
              onProgress: (p: DownloadProgress) =>
                onProgress({ ...p, bytesDone: before + p.bytesDone, totalBytes: before + p.totalBytes }),
            }
          : {};
        const [path] = await downloadTargets([update.archive.target], edges, { ...dl, ...progress });
        if (path === undefined)
          throw new InstallError('DOWNLOAD_FAILED', 'the full archive was not downloaded');
        return path;
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });

    stage('unpack');
    const stagingDir = stagingDirFor(this.installDir, update.version);
    await rm(stagingDir, { recursive: true, force: true });
    try {
      // The tar was checked when it was built; the unpack checks it again as it reads it (the
      // bytes on disk could have changed since), so only the signed tar is ever staged.
      const unpackProgress = workProgress('unpack', tarFile, options.onProgress);
      const tarLength = update.release.tar.length;
      unpackProgress?.(0, tarLength);
      await unpackArchive(rebuilt.tarPath, stagingDir, {
        expectedTar: update.release.tar,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(unpackProgress ? { onProgress: (n: number) => unpackProgress(n, tarLength) } : {}),
      });
      unpackProgress?.(tarLength, tarLength);
    } catch (error) {
      await rm(stagingDir, { recursive: true, force: true });
      throw error;
    }
    // Until this process exits (or hands over), a second instance's cleanup keeps the staged folder.
    await writeFileAtomic(layout.stagedPidFile, `${process.pid}\n`);
    // Keep the new tar: it is what the next update's first patch applies to.
    await mkdir(layout.tarsDir, { recursive: true });
    await rename(rebuilt.tarPath, cachedTarPath(layout.tarsDir, update.version));
    await rm(layout.workDir, { recursive: true, force: true });
    stage('staged');

    const restart = options.restart === false ? undefined : (options.restart ?? ownCommandLine());
    const version = update.version;
    const previousVersion = currentVersion;
    const healthTimeoutSeconds =
      restart === undefined ? 0 : (this.#options.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS);
    const waitTimeoutSeconds = this.#options.waitTimeoutSeconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS;
    const handOver = async (): Promise<{ script: string; log: string }> => {
      await this.#checkInstallDirUnchanged(previousVersion);
      const backupDir = backupDirFor(this.installDir, previousVersion);
      await rm(backupDir, { recursive: true, force: true });
      await rm(handoverResultPath(this.stateDir), { force: true });
      const state = await readState(layout);
      // The installer's own limits bound how long it can run; past them (plus a margin) a
      // missing result means it died, and the next start settles instead of waiting forever.
      const deadlineMs = (waitTimeoutSeconds + healthTimeoutSeconds + STALE_HANDOVER_MARGIN_SECONDS) * 1000;
      // What the install folder will be once the installer has swapped it in (a rename keeps it).
      const stagingIdentity = await folderIdentity(stagingDir);
      await writeState(layout, {
        ...state,
        pending: {
          version,
          previousVersion,
          stagingDir,
          backupDir,
          startedAt: Date.now(),
          deadlineMs,
          ...(stagingIdentity !== undefined ? { stagingIdentity } : {}),
          tar: update.release.tar,
        },
      });
      const handover = startHandover({
        appName: this.appName,
        version,
        previousVersion,
        installDir: this.installDir,
        stagingDir,
        backupDir,
        pid: options.pid ?? process.pid,
        ...(restart !== undefined ? { restart } : {}),
        stateDir: this.stateDir,
        healthTimeoutSeconds,
        waitTimeoutSeconds,
      });
      try {
        return await handover;
      } catch (error) {
        // No installer runs: a pending hand-over would hide this version until its deadline.
        await writeState(layout, state);
        throw error;
      }
    };
    return {
      version,
      via: rebuilt.via,
      fellBack: update.kind === 'patches' && rebuilt.via === 'full',
      quitAndInstall: once(async () => {
        // Not while another instance is staging (it may be rebuilding this very staging folder).
        const release = await acquireUpdateLock(this.stateDir);
        try {
          return await handOver();
        } finally {
          await release();
        }
      }),
    };
  }

  /**
   * check, download, install and start the installer in one call. When it resolves with
   * `handed-over`, the app must exit (the installer waits for it, swaps and restarts the app).
   */
  async updateAndRestart(options: InstallOptions = {}): Promise<UpdateAndRestartResult> {
    const update = await this.check(options.signal ? { signal: options.signal } : {});
    if (update.kind === 'none') return { kind: 'none' };
    const staged = await this.install(update, options);
    const { script, log } = await staged.quitAndInstall();
    return { kind: 'handed-over', version: staged.version, via: staged.via, script, log };
  }

  /**
   * Tells the installer that this (new) version started well, so it keeps it. Safe to call any
   * time: it confirms the version a pending hand-over put into the install folder, else the
   * version the app says it is (`currentVersion`).
   */
  async confirm(): Promise<void> {
    if ((await this.confirmPending()) !== undefined) return;
    if (this.#givenVersion !== undefined) await this.#writeConfirm(this.#givenVersion);
  }

  /**
   * Confirms the version a pending hand-over has put into the install folder (the folder is the
   * staged one: same device and inode) and records it as installed. Resolves with that version, or
   * undefined when no hand-over waits for a confirmation: the previous version (still running, or
   * restarted after a roll back) can never confirm the new one.
   */
  async confirmPending(): Promise<string | undefined> {
    const p = (await readState(this.#layout)).pending;
    if (p === undefined || !(await this.#pendingInPlace(p))) return undefined;
    await this.#writeConfirm(p.version);
    await this.#recordInPlace(p);
    return p.version;
  }

  async #writeConfirm(version: string): Promise<void> {
    await mkdir(this.#layout.handoverDir, { recursive: true });
    await writeFileAtomic(confirmFilePath(this.stateDir, version), `${new Date().toISOString()}\n`);
  }

  /** Whether the installer has swapped this pending hand-over's staged folder into place. */
  async #pendingInPlace(p: PendingHandover): Promise<boolean> {
    return p.stagingIdentity !== undefined && (await folderIdentity(this.installDir)) === p.stagingIdentity;
  }

  /** Records the pending hand-over's version as installed, when its staged folder is in place. */
  async #recordInPlace(p: PendingHandover): Promise<void> {
    if (p.tar === undefined || !(await this.#pendingInPlace(p))) return;
    const fingerprint = await folderFingerprint(this.installDir);
    if (fingerprint === undefined) return;
    await writeInstalledRecord(this.#layout, {
      version: p.version,
      tar: p.tar,
      installDir: this.installDir,
      fingerprint,
    });
    this.#knownVersion = p.version;
  }

  /**
   * The version in the install folder: known already (the record matched at settle, or an earlier
   * call found it), else the app's `currentVersion`, else identified now by the folder's
   * reproducible tar digest among the signed releases (and recorded, so the next start is cheap).
   */
  async #installedVersion(targets: readonly PlanTargetInput[]): Promise<string> {
    const known = this.#knownVersion ?? this.#givenVersion;
    if (known !== undefined) return known;
    const version = await this.#identify(targets);
    this.#knownVersion = version;
    return version;
  }

  async #identify(targets: readonly PlanTargetInput[]): Promise<string> {
    const contents = await folderContents(this.installDir).catch(() => 'missing' as const);
    if (contents !== 'files')
      throw new UsageError(
        'INSTALL_DIR_MISSING',
        `nothing is installed in ${this.installDir}: install the app first (notsotuf install --config update.json), or set installDir to the folder it is installed in`,
      );
    const notARelease = (why: string, cause?: unknown): UsageError =>
      new UsageError(
        'NOT_A_RELEASE',
        `the install folder ${this.installDir} ${why}, so the installed version is not known: set currentVersion in update.json (or --current-version) to the version installed there, or install the app again into an empty folder (notsotuf install)`,
        cause === undefined ? {} : { cause },
      );
    const archives = appReleases(targets, this.appName).archives;
    if (archives.size === 0) throw appNotInRepository(targets, this.appName);
    const fingerprint = await folderFingerprint(this.installDir);
    let digest;
    try {
      digest = await hashFolderAsTar(this.installDir);
    } catch (cause) {
      throw notARelease(`cannot be packed (${messageOf(cause)})`, cause);
    }
    const record = await readInstalledRecord(this.#layout);
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
        `matches no signed release of ${this.appName} (its files differ from every published version)`,
      );
    this.#folderPacksTo = version;
    if (fingerprint !== undefined)
      await writeInstalledRecord(this.#layout, {
        version,
        tar: { sha256: digest.sha256, length: digest.length },
        installDir: this.installDir,
        fingerprint,
      });
    return version;
  }

  /**
   * The first install: puts the newest release of the channel (that this install's rollout
   * includes) into an install folder that does not exist yet or is empty, verified exactly like an
   * update (TUF refresh, signed archive and tar digests, strict unpack into a staging folder beside
   * it, one rename into place), and records it. A folder that holds a signed release already is
   * left as it is (`already-installed`); one that holds anything else is refused
   * (UsageError INSTALL_DIR_NOT_EMPTY), nothing changed.
   */
  async firstInstall(
    options: DownloadOptions & { readonly onStage?: (stage: InstallStage) => void } = {},
  ): Promise<FirstInstallResult> {
    await this.#settle();
    const release = await acquireUpdateLock(this.stateDir);
    try {
      return await this.#firstInstall(options);
    } finally {
      await release();
    }
  }

  async #firstInstall(
    options: DownloadOptions & { readonly onStage?: (stage: InstallStage) => void },
  ): Promise<FirstInstallResult> {
    const layout = this.#layout;
    const tuf = await this.#refreshedTuf(true);
    const targets = await tuf.listTargets();
    const notEmpty = (what: string, cause?: unknown): UsageError =>
      new UsageError(
        'INSTALL_DIR_NOT_EMPTY',
        `${this.installDir} ${what}: install into a new or empty folder (nothing was changed)`,
        cause === undefined ? {} : { cause },
      );
    const contents = await folderContents(this.installDir);
    if (contents === 'not-a-folder') throw notEmpty('is a file, not a folder');
    if (contents === 'files') {
      const recorded = await recordedVersion(await readInstalledRecord(layout), this.installDir);
      if (recorded !== undefined) return { kind: 'already-installed', version: recorded };
      try {
        return { kind: 'already-installed', version: await this.#identify(targets) };
      } catch (error) {
        if (error instanceof UsageError && error.code === 'NOT_A_RELEASE')
          throw notEmpty(`holds files that are not a release of ${this.appName}`, error);
        throw error;
      }
    }
    const archives = appReleases(targets, this.appName).archives;
    if (archives.size === 0) throw appNotInRepository(targets, this.appName);
    const chosen = chooseFirstInstall(archives, {
      channel: this.channel,
      rolloutId: await installRolloutId(layout),
    });
    if (chosen === undefined)
      throw new UsageError(
        'NO_RELEASE',
        `the repository holds no release of ${this.appName} for the ${this.channel} channel to install: check appName and channel, or ask the publisher`,
      );
    const version = chosen.meta.version;
    const stage = options.onStage ?? (() => undefined);
    const edges = {
      fetcher: this.#fetcher,
      targetUrl: (t: Parameters<TufClient['targetUrl']>[0]) => tuf.targetUrl(t),
      downloadsDir: layout.downloadsDir,
      verified: this.#verified,
    };
    await rm(layout.workDir, { recursive: true, force: true });
    await mkdir(layout.workDir, { recursive: true });
    stage('download');
    const rebuilt = await rebuildTar({
      workDir: layout.workDir,
      release: chosen.meta,
      chain: [],
      fullArchive: async () => {
        const [path] = await downloadTargets([chosen.target], edges, options);
        if (path === undefined) throw new InstallError('DOWNLOAD_FAILED', 'the archive was not downloaded');
        return path;
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    stage('unpack');
    const stagingDir = stagingDirFor(this.installDir, version);
    await mkdir(dirname(this.installDir), { recursive: true });
    await rm(stagingDir, { recursive: true, force: true });
    try {
      await unpackArchive(rebuilt.tarPath, stagingDir, {
        expectedTar: chosen.meta.tar,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      // Still empty? (rmdir refuses a folder someone wrote into meanwhile.) Then one rename.
      if (contents === 'empty') {
        try {
          await rmdir(this.installDir);
        } catch (cause) {
          throw notEmpty('is no longer empty', cause);
        }
      }
      try {
        await rename(stagingDir, this.installDir);
      } catch (cause) {
        throw new InstallError(
          'INSTALL_FAILED',
          `cannot move the new version into ${this.installDir} (${messageOf(cause)}): check that its parent folder is writable`,
          { cause },
        );
      }
    } catch (error) {
      await rm(stagingDir, { recursive: true, force: true });
      throw error;
    }
    // The tar is what the first update's patch applies to.
    await mkdir(layout.tarsDir, { recursive: true });
    await rename(rebuilt.tarPath, cachedTarPath(layout.tarsDir, version));
    await rm(layout.workDir, { recursive: true, force: true });
    await rm(layout.downloadsDir, { recursive: true, force: true });
    const fingerprint = await folderFingerprint(this.installDir);
    if (fingerprint !== undefined)
      await writeInstalledRecord(layout, {
        version,
        tar: chosen.meta.tar,
        installDir: this.installDir,
        fingerprint,
      });
    this.#knownVersion = version;
    this.#installIdentity = await folderIdentity(this.installDir);
    return { kind: 'installed', version, downloadBytes: chosen.target.length };
  }

  /**
   * The TUF client, refreshed (spec 5.3-5.6) by this Client at least once; `fresh` refreshes again
   * (every `check`: an app that keeps one Client for days must see new metadata, and expiry).
   */
  async #refreshedTuf(fresh = false): Promise<TufClient> {
    if (this.#tuf !== undefined) {
      if (fresh) await this.#refresh(this.#tuf);
      return this.#tuf;
    }
    await mkdir(this.#layout.metadataDir, { recursive: true });
    await TufClient.initialize(this.#layout.metadataDir, await readTrustedRoot(this.#options.trustedRoot));
    const tuf = new TufClient({
      metadataDir: this.#layout.metadataDir,
      metadataUrl: this.#options.metadataUrl,
      targetsUrl: this.#options.targetsUrl,
      fetcher: this.#fetcher,
    });
    await this.#refresh(tuf);
    this.#tuf = tuf;
    return tuf;
  }

  /**
   * One TUF refresh. Refused signatures before any timestamp was ever verified here mean the
   * shipped root.json does not match this repository: say so (TRUSTED_ROOT_MISMATCH), and drop the
   * copy of that root from the state folder, so a corrected root.json is taken on the next run.
   */
  async #refresh(tuf: TufClient): Promise<void> {
    const firstContact = await stat(metadataFile(this.#layout, 'timestamp.json')).then(
      () => false,
      () => true,
    );
    try {
      await tuf.refresh();
    } catch (error) {
      if (!firstContact) throw error;
      const mismatch = rootMismatchError(error, {
        trustedRoot:
          typeof this.#options.trustedRoot === 'string'
            ? this.#options.trustedRoot
            : 'root.json (given as bytes)',
        metadataUrl: this.#options.metadataUrl,
      });
      if (mismatch !== error) {
        await rm(metadataFile(this.#layout, 'root.json'), { force: true });
        this.#tuf = undefined;
      }
      throw mismatch;
    }
  }

  /**
   * Another instance's update replaced the install folder since this process started: this
   * process's currentVersion no longer describes it, and installing from it could go backwards.
   */
  async #checkInstallDirUnchanged(currentVersion: string): Promise<void> {
    if (this.#installIdentity === undefined) return;
    if ((await folderIdentity(this.installDir)) !== this.#installIdentity)
      throw new InstallError(
        'INSTALL_DIR_REPLACED',
        `${this.installDir} was replaced by another update since this app started (version ${currentVersion}): restart the app, then check again`,
      );
  }

  /** Once per Client: reads the last handover's result, records a roll back, cleans what is settled. */
  #settle(): Promise<void> {
    this.#settled ??= this.#doSettle();
    return this.#settled;
  }

  async #doSettle(): Promise<void> {
    const layout = this.#layout;
    await claimStateDir(layout);
    let state: ClientState = await readState(layout);
    const pendingAtStart = state.pending;
    let result: HandoverResult | undefined;
    // Whether an update settled on this start (then its downloads are no longer needed).
    let settledNow = false;
    // An installer killed between its two renames left no install folder: put the old one back first.
    const restored =
      state.pending !== undefined && (await restoreInterruptedSwap(this.installDir, state.pending));
    this.#installIdentity = await folderIdentity(this.installDir);
    try {
      result = await readHandoverResult(this.stateDir);
    } catch {
      // A damaged result file: the install folder tells the truth (currentVersion); settle anyway.
      result = undefined;
      await rm(handoverResultPath(this.stateDir), { force: true });
      if (state.pending !== undefined) {
        state = { skipped: state.skipped, noPatchesTo: state.noPatchesTo };
        await writeState(layout, state);
        settledNow = true;
      }
    }
    if (result !== undefined) {
      this.#lastResult = result;
      const skipped =
        result.outcome === 'rolled-back' && !state.skipped.includes(result.version)
          ? [...state.skipped, result.version]
          : state.skipped;
      state = { skipped, noPatchesTo: state.noPatchesTo };
      await writeState(layout, state);
      await rm(handoverResultPath(this.stateDir), { force: true });
      settledNow = true;
      // The installer kept the new version: record it (a roll back put the recorded folder back).
      if (result.outcome === 'installed' && pendingAtStart?.version === result.version)
        await this.#recordInPlace(pendingAtStart);
    }
    const p = state.pending;
    if (result === undefined && p !== undefined && restored) {
      this.#lastResult = {
        outcome: 'failed',
        version: p.version,
        previousVersion: p.previousVersion,
        reason: 'the installer was interrupted during the swap; the previous version was restored',
      };
      state = { skipped: state.skipped, noPatchesTo: state.noPatchesTo };
      await writeState(layout, state);
      settledNow = true;
    } else if (
      result === undefined &&
      p !== undefined &&
      ((p.startedAt !== undefined && p.deadlineMs !== undefined && Date.now() - p.startedAt > p.deadlineMs) ||
        (await installerDied(this.stateDir, p)))
    ) {
      // The installer never reported (past its time limits, or known dead): the install folder
      // (currentVersion) is the truth.
      state = { skipped: state.skipped, noPatchesTo: state.noPatchesTo };
      await writeState(layout, state);
      settledNow = true;
    }
    // A record that still matches the install folder names its version (and wins over a stale
    // currentVersion); with neither, the version is found on the first check (keep every tar until then).
    this.#knownVersion ??= await recordedVersion(await readInstalledRecord(layout), this.installDir);
    const keep = [this.#knownVersion, this.#givenVersion].filter((v): v is string => v !== undefined);
    if (state.pending === undefined) {
      // Another instance of the app may be downloading or unpacking (it holds the update lock), or
      // may hold a staged update until its user quits: its files are not leftovers.
      let release: (() => Promise<void>) | undefined;
      try {
        release = await acquireUpdateLock(this.stateDir);
      } catch (error) {
        if (!(error instanceof InstallError && error.code === 'UPDATE_IN_PROGRESS')) throw error;
      }
      if (release !== undefined) {
        try {
          await cleanSettled(layout, this.installDir, keep.length > 0 ? keep : undefined, {
            afterUpdate: settledNow,
            keepStaging: await stagedByLiveProcess(layout),
          });
        } finally {
          await release();
        }
      }
    }
  }
}

/** Records that patches to `version` failed on this install: its next plans take the full archive. */
async function rememberNoPatches(layout: StateLayout, version: string): Promise<void> {
  const state = await readState(layout);
  if (!state.noPatchesTo.includes(version))
    await writeState(layout, { ...state, noPatchesTo: [...state.noPatchesTo, version] });
}

/**
 * Byte progress of a local stage of install (rebuild, unpack) in the same shape as the download's,
 * throttled the same way; undefined when the caller wants no progress.
 */
function workProgress(
  stage: 'rebuild' | 'unpack',
  file: string,
  onProgress: ((p: DownloadProgress) => void) | undefined,
): ((done: number, total: number) => void) | undefined {
  if (onProgress === undefined) return undefined;
  const report = throttleProgress(onProgress);
  const started = performance.now();
  return (done, total) => {
    const seconds = (performance.now() - started) / 1000;
    report({
      stage,
      bytesDone: done,
      totalBytes: total,
      bytesPerSecond: seconds > 0 ? done / seconds : 0,
      file,
    });
  };
}
