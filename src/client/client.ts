import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DataError, InstallError, UsageError } from '../errors.js';
import { unpackArchive } from '../archive/index.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import type { UpdatePlan } from '../core/plan.js';
import { appReleases, planUpdate } from '../core/plan.js';
import { checkAppName } from '../core/target-name.js';
import type { Channel } from '../core/version.js';
import { parseChannel, parseVersion } from '../core/version.js';
import { PATCH_FORMAT } from '../diff/index.js';
import { writeFileAtomic } from './atomic-file.js';
import { backupDirFor, cleanSettled, stagingDirFor } from './cache-hygiene.js';
import type {
  ClientOptions,
  DownloadOptions,
  DownloadProgress,
  InstallOptions,
  StagedUpdate,
} from './client-options.js';
import { downloadTargets } from './download.js';
import type { Fetcher } from './fetcher.js';
import { createFetcher } from './fetcher.js';
import type { HandoverResult } from './handover.js';
import { confirmFilePath, handoverDir, handoverResultPath, readHandoverResult } from './handover.js';
import { isRunning, startHandover } from './install.js';
import { installerDied, restoreInterruptedSwap } from './interrupted-swap.js';
import { rebuildTar } from './rebuild-tar.js';
import { acquireUpdateLock } from './update-lock.js';
import { cachedTarPath, ensureSourceTar, sourceTarAvailable } from './source-tar.js';
import type { ClientState, StateLayout } from './state.js';
import {
  claimStateDir,
  installRolloutId,
  readState,
  readTextIfSmall,
  stateLayout,
  writeState,
} from './state.js';
import { TufClient } from './tuf/index.js';

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

function stagedPidPath(stateDir: string): string {
  return join(stateDir, 'staged.pid');
}

/** Whether the process that staged the last update still runs (it may still call quitAndInstall). */
async function stagedByLiveProcess(stateDir: string): Promise<boolean> {
  const text = await readTextIfSmall(stagedPidPath(stateDir)).catch(() => undefined);
  const pid = Number(text?.trim());
  if (
    text !== undefined &&
    /^\d{1,10}\s*$/.test(text) &&
    Number.isSafeInteger(pid) &&
    pid > 0 &&
    isRunning(pid)
  )
    return true;
  await rm(stagedPidPath(stateDir), { force: true });
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
  readonly currentVersion: string;
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

  constructor(options: ClientOptions) {
    this.appName = checkAppName(options.appName);
    this.currentVersion = parseVersion(options.currentVersion).text;
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
    this.#options = options;
    this.#layout = stateLayout(this.stateDir);
    this.#fetcher = createFetcher({
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    });
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
    if (state.pending?.version === this.currentVersion) await this.confirm();
    options.signal?.throwIfAborted();
    const tuf = await this.#refreshedTuf(true);
    const targets = await tuf.listTargets();
    const skipped = [...state.skipped];
    // While a handover is in flight (or its result not yet written), never offer its version again.
    if (state.pending !== undefined && state.pending.version !== this.currentVersion)
      skipped.push(state.pending.version);
    const input = {
      app: this.appName,
      currentVersion: this.currentVersion,
      channel: this.channel,
      rolloutId: await installRolloutId(this.#layout),
      skippedVersions: skipped,
      noPatchesTo: state.noPatchesTo,
      patchFormats: [PATCH_FORMAT],
    };
    const optimistic = planUpdate(targets, { ...input, sourceTarAvailable: true });
    if (optimistic.kind !== 'patches') return optimistic;
    // Only now is it worth hashing the install folder (when no cached tar exists).
    const current = appReleases(targets, this.appName).archives.get(this.currentVersion);
    const available =
      current !== undefined &&
      (await sourceTarAvailable(
        this.#layout.tarsDir,
        this.installDir,
        this.currentVersion,
        current.meta.tar,
      ));
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
    await this.#checkInstallDirUnchanged();
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
      const current = appReleases(await tuf.listTargets(), this.appName).archives.get(this.currentVersion);
      if (current !== undefined && patchFailure === undefined) {
        stage('source');
        sourceTar = await ensureSourceTar(
          layout.tarsDir,
          this.installDir,
          this.currentVersion,
          current.meta.tar,
        );
      }
    }
    stage('rebuild');
    const rebuilt = await rebuildTar({
      workDir: layout.workDir,
      release: update.release,
      chain,
      ...(sourceTar !== undefined ? { sourceTar } : {}),
      fullArchive: async () => {
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
    if (update.kind === 'patches' && rebuilt.via === 'full') {
      const state = await readState(layout);
      if (!state.noPatchesTo.includes(update.version)) {
        await writeState(layout, { ...state, noPatchesTo: [...state.noPatchesTo, update.version] });
      }
    }

    stage('unpack');
    const stagingDir = stagingDirFor(this.installDir, update.version);
    await rm(stagingDir, { recursive: true, force: true });
    try {
      // The tar was checked when it was built; the unpack checks it again as it reads it (the
      // bytes on disk could have changed since), so only the signed tar is ever staged.
      await unpackArchive(rebuilt.tarPath, stagingDir, {
        expectedTar: update.release.tar,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      await rm(stagingDir, { recursive: true, force: true });
      throw error;
    }
    // Until this process exits (or hands over), a second instance's cleanup keeps the staged folder.
    await writeFileAtomic(stagedPidPath(this.stateDir), `${process.pid}\n`);
    // Keep the new tar: it is what the next update's first patch applies to.
    await mkdir(layout.tarsDir, { recursive: true });
    await rename(rebuilt.tarPath, cachedTarPath(layout.tarsDir, update.version));
    await rm(layout.workDir, { recursive: true, force: true });
    stage('staged');

    const restart = options.restart === false ? undefined : (options.restart ?? ownCommandLine());
    const version = update.version;
    const previousVersion = this.currentVersion;
    const healthTimeoutSeconds =
      restart === undefined ? 0 : (this.#options.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS);
    const waitTimeoutSeconds = this.#options.waitTimeoutSeconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS;
    const handOver = async (): Promise<{ script: string; log: string }> => {
      await this.#checkInstallDirUnchanged();
      const backupDir = backupDirFor(this.installDir, previousVersion);
      await rm(backupDir, { recursive: true, force: true });
      await rm(handoverResultPath(this.stateDir), { force: true });
      const state = await readState(layout);
      // The installer's own limits bound how long it can run; past them (plus a margin) a
      // missing result means it died, and the next start settles instead of waiting forever.
      const deadlineMs = (waitTimeoutSeconds + healthTimeoutSeconds + STALE_HANDOVER_MARGIN_SECONDS) * 1000;
      await writeState(layout, {
        ...state,
        pending: { version, previousVersion, stagingDir, backupDir, startedAt: Date.now(), deadlineMs },
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

  /** Tells the installer that this (new) version started well, so it keeps it. Safe to call any time. */
  async confirm(): Promise<void> {
    await mkdir(handoverDir(this.stateDir), { recursive: true });
    await writeFileAtomic(
      confirmFilePath(this.stateDir, this.currentVersion),
      `${new Date().toISOString()}\n`,
    );
  }

  /**
   * The TUF client, refreshed (spec 5.3-5.6) by this Client at least once; `fresh` refreshes again
   * (every `check`: an app that keeps one Client for days must see new metadata, and expiry).
   */
  async #refreshedTuf(fresh = false): Promise<TufClient> {
    if (this.#tuf !== undefined) {
      if (fresh) await this.#tuf.refresh();
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
    await tuf.refresh();
    this.#tuf = tuf;
    return tuf;
  }

  /**
   * Another instance's update replaced the install folder since this process started: this
   * process's currentVersion no longer describes it, and installing from it could go backwards.
   */
  async #checkInstallDirUnchanged(): Promise<void> {
    if (this.#installIdentity === undefined) return;
    if ((await folderIdentity(this.installDir)) !== this.#installIdentity)
      throw new InstallError(
        'INSTALL_DIR_REPLACED',
        `${this.installDir} was replaced by another update since this app started (version ${this.currentVersion}): restart the app, then check again`,
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
          await cleanSettled(layout, this.installDir, this.currentVersion, {
            afterUpdate: settledNow,
            keepStaging: await stagedByLiveProcess(this.stateDir),
          });
        } finally {
          await release();
        }
      }
    }
  }
}
