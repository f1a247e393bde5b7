import { InstallError } from '../errors.js';
import type { PlanTargetInput } from '../core/plan.js';
import { appReleases, planUpdate } from '../core/plan.js';
import type { Channel } from '../core/version.js';
import { PATCH_FORMATS } from '../diff/index.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type {
  CheckResult,
  ClientOptions,
  DownloadOptions,
  FirstInstallResult,
  InstallOptions,
  StagedUpdate,
  Update,
  UpdateAndRestartResult,
} from './client-options.js';
import { checkClientOptions } from './client-options.js';
import type { DownloadEdges } from './download.js';
import { downloadTargets } from './download.js';
import type { Fetcher } from './fetcher.js';
import { createFetcher } from './fetcher.js';
import type { FirstInstallOptions } from './first-install.js';
import { firstInstall } from './first-install.js';
import type { HandoverResult } from './handover.js';
import {
  folderIdentity,
  identifyInstalledVersion,
  pendingInPlace,
  recordInPlace,
} from './installed-version.js';
import { quitAndInstallFor } from './quit-and-install.js';
import { settleAtStart } from './settle.js';
import { sourceTarAvailable } from './source-tar.js';
import { stageUpdate } from './stage-update.js';
import type { StateLayout } from './state-layout.js';
import { confirmFilePath, stateLayout } from './state-layout.js';
import { installRolloutId, readState } from './state.js';
import type { TufClient } from './tuf/index.js';
import { TufSession } from './tuf-session.js';
import { acquireUpdateLock } from './update-lock.js';
import { makeDirs } from '../io/make-dirs.js';

export type { CheckResult, FirstInstallResult, Update, UpdateAndRestartResult } from './client-options.js';

/**
 * The client side of notsotuf, inside the app: check for an update, download it (resumable,
 * verified), rebuild and stage the new version, and hand over to the installer that swaps the
 * folders once the app has exited. It never prompts and never exits the process: `install`
 * returns `quitAndInstall`, and the app decides when to quit.
 *
 * This class holds what one Client knows and orders the steps; the steps live in their modules:
 * settle.ts (start-up), installed-version.ts, stage-update.ts, quit-and-install.ts,
 * first-install.ts, tuf-session.ts.
 */
export class Client {
  readonly appName: string;
  readonly installDir: string;
  readonly stateDir: string;
  readonly channel: Channel;
  readonly #options: ClientOptions;
  readonly #layout: StateLayout;
  readonly #fetcher: Fetcher;
  readonly #tuf: TufSession;
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
    const checked = checkClientOptions(options);
    this.appName = checked.appName;
    this.#givenVersion = checked.givenVersion;
    this.channel = checked.channel;
    this.installDir = checked.installDir;
    this.stateDir = checked.stateDir;
    this.#options = options;
    this.#layout = stateLayout(this.stateDir);
    this.#fetcher = createFetcher({
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.stallTimeoutMs !== undefined ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    });
    this.#tuf = new TufSession(this.#layout, options, this.#fetcher);
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
    if (p !== undefined && (p.version === this.currentVersion || (await pendingInPlace(this.installDir, p))))
      await this.confirm();
    options.signal?.throwIfAborted();
    const tuf = await this.#tuf.refreshed(true);
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
    await this.#locked(async () => {
      const edges = this.#edges(await this.#tuf.refreshed());
      const targets = update.kind === 'patches' ? update.chain.map((s) => s.target) : [update.archive.target];
      await downloadTargets(targets, edges, options);
    });
  }

  /**
   * Downloads (or resumes) the update, rebuilds the new version's tar (patch chain from the current
   * tar, else the full archive; a failed patch falls back to the full archive and is remembered),
   * unpacks it strictly into a staging folder beside the install folder, and returns
   * `quitAndInstall` for the app to call when it is ready to quit.
   */
  async install(update: Update, options: InstallOptions = {}): Promise<StagedUpdate> {
    return this.#locked(() => this.#install(update, options));
  }

  async #install(update: Update, options: InstallOptions): Promise<StagedUpdate> {
    const tuf = await this.#tuf.refreshed();
    const edges = this.#edges(tuf);
    const targets = await tuf.listTargets();
    const currentVersion = await this.#installedVersion(targets);
    await this.#checkInstallDirUnchanged(currentVersion);
    // Another instance handed this version over already: its installer may swap the staging folder
    // at any moment, so it must not be removed and rebuilt under it.
    if ((await readState(this.#layout)).pending?.version === update.version)
      throw new InstallError(
        'HANDOVER_PENDING',
        `version ${update.version} is already handed over to the installer, which installs it once the app exits: nothing to do`,
      );
    const work = { appName: this.appName, installDir: this.installDir, layout: this.#layout, edges };
    const currentTar = appReleases(targets, this.appName).archives.get(currentVersion)?.meta.tar;
    const { via, stagingDir } = await stageUpdate(
      work,
      update,
      { version: currentVersion, tar: currentTar },
      options,
    );
    const staged = {
      ...work,
      version: update.version,
      previousVersion: currentVersion,
      stagingDir,
      tar: update.release.tar,
    };
    return {
      version: update.version,
      via,
      fellBack: update.kind === 'patches' && via === 'full',
      quitAndInstall: quitAndInstallFor(staged, options, this.#options, () =>
        this.#checkInstallDirUnchanged(currentVersion),
      ),
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
   * Tells the installer that this (new) version started well. Safe to call any time: it confirms
   * the version a pending hand-over put into the install folder, else the version the app says it
   * is (`currentVersion`).
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
    if (p === undefined || !(await pendingInPlace(this.installDir, p))) return undefined;
    await this.#writeConfirm(p.version);
    this.#knownVersion = (await recordInPlace(this.#layout, this.installDir, p)) ?? this.#knownVersion;
    return p.version;
  }

  async #writeConfirm(version: string): Promise<void> {
    await makeDirs(this.#layout.handoverDir);
    await writeFileAtomic(confirmFilePath(this.stateDir, version), `${new Date().toISOString()}\n`);
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
    const folder = { appName: this.appName, installDir: this.installDir, layout: this.#layout };
    const version = await identifyInstalledVersion(folder, targets);
    this.#folderPacksTo = version;
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
  async firstInstall(options: FirstInstallOptions = {}): Promise<FirstInstallResult> {
    return this.#locked(async () => {
      const tuf = await this.#tuf.refreshed(true);
      const targets = await tuf.listTargets();
      const work = {
        appName: this.appName,
        installDir: this.installDir,
        channel: this.channel,
        layout: this.#layout,
        edges: this.#edges(tuf),
        identify: (t: readonly PlanTargetInput[]) => this.#identify(t),
      };
      const result = await firstInstall(work, targets, options);
      if (result.kind === 'installed') {
        this.#knownVersion = result.version;
        this.#installIdentity = await folderIdentity(this.installDir);
      }
      return result;
    });
  }

  /** After the start-up settle, `fn` under the update lock: one update at a time per state folder. */
  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.#settle();
    const release = await acquireUpdateLock(this.stateDir);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /** Where downloads come from and go, with the refreshed TUF client's target URLs. */
  #edges(tuf: TufClient): DownloadEdges {
    return {
      fetcher: this.#fetcher,
      targetUrl: (t) => tuf.targetUrl(t),
      downloadsDir: this.#layout.downloadsDir,
      verified: this.#verified,
    };
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
    this.#settled ??= (async () => {
      const done = await settleAtStart({
        installDir: this.installDir,
        layout: this.#layout,
        givenVersion: this.#givenVersion,
        knownVersion: this.#knownVersion,
      });
      this.#installIdentity = done.installIdentity;
      this.#lastResult = done.lastResult;
      this.#knownVersion = done.knownVersion;
    })();
    return this.#settled;
  }
}
