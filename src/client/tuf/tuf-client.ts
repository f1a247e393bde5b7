/**
 * TUF for the client, on top of tuf-js's Updater (no second TUF implementation): the client
 * workflow of spec 5.3-5.6 (root chain, timestamp, snapshot, targets, delegations) with our single
 * network seam, limits in bytes, atomic exact-bytes persistence and errors that say what to do.
 *
 * Each refresh builds a new Updater, so each has its own reference time (spec 5.1) and sees the
 * trusted metadata on disk as the previous refresh left it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import { Updater } from 'tuf-js';
import { DataError, InstallError, UsageError, messageOf } from '../../errors.js';
import type { Fetcher } from '../fetcher.js';
import { tufJsFetcher, type FailureRecorder } from './fetcher-adapter.js';
import { toTrustedTarget, type TrustedTarget } from './trusted-target.js';
import { consistentSnapshot, metadataFileName, patchUpdater, trustedTargets } from './updater-internals.js';
import { wrapTufError } from './wrap-tuf-error.js';
import { writeFileAtomicSync } from '../../io/atomic-write.js';
import { makeDirs } from '../../io/make-dirs.js';

export interface TufLimits {
  /** Most root versions followed in one refresh (spec 5.3.3); default 32. */
  maxRootRotations?: number;
  /** Most delegated roles visited looking for one target (spec 5.6.7); default 32. */
  maxDelegations?: number;
  /** Byte caps for metadata whose length is not signed elsewhere. */
  rootMaxLength?: number;
  timestampMaxLength?: number;
  snapshotMaxLength?: number;
  targetsMaxLength?: number;
}

export interface TufClientOptions extends TufLimits {
  /** Folder of the trusted metadata (`root.json`, `timestamp.json`, ...). */
  metadataDir: string;
  /** Base URL of the repository's metadata (`<url>/N.root.json`, `<url>/timestamp.json`). */
  metadataUrl: string;
  /** Base URL of the repository's targets. */
  targetsUrl: string;
  fetcher: Fetcher;
  /** The clock used for expiry checks (spec 5.1); defaults to the real one. */
  now?: () => Date;
  /** Cancels network requests of refresh/getTarget. */
  signal?: AbortSignal;
}

const DEFAULT_LIMITS: Required<TufLimits> = {
  maxRootRotations: 32,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
};

export class TufClient {
  readonly #options: TufClientOptions;
  readonly #limits: Required<TufLimits>;
  #updater: Updater | undefined;
  #recorder: FailureRecorder = { last: undefined };

  constructor(options: TufClientOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_LIMITS };
    for (const key of Object.keys(DEFAULT_LIMITS) as (keyof TufLimits)[]) {
      const value = options[key];
      if (value === undefined) continue;
      if (!Number.isSafeInteger(value) || value < 1)
        throw new UsageError('BAD_LIMIT', `${key} must be a positive integer, got ${String(value)}.`);
      this.#limits[key] = value;
    }
  }

  /**
   * Installs the trusted root into metadataDir if none is there yet (first run). The bytes must be
   * a root signed by its own threshold of keys (an expired root is accepted: spec 5.2 lets the
   * first refresh replace it). A valid root.json already there is never replaced: it may be newer.
   * One that is not a valid root (damaged on disk) is replaced by the shipped root, from which the
   * next refresh follows the root chain again.
   */
  static async initialize(metadataDir: string, trustedRootBytes: Uint8Array): Promise<void> {
    checkTrustedRoot(trustedRootBytes);
    try {
      await makeDirs(metadataDir);
      const path = join(metadataDir, metadataFileName(MetadataKind.Root));
      if (existsSync(path) && isValidRoot(await readFile(path))) return;
      writeFileAtomicSync(path, trustedRootBytes, { mode: 0o644 });
    } catch (cause) {
      throw new InstallError(
        'METADATA_WRITE_FAILED',
        `Could not store the trusted root in ${metadataDir}: ${messageOf(cause)}. Check the folder's permissions.`,
        { cause },
      );
    }
  }

  /** TUF client workflow (spec 5.3-5.6): root chain, timestamp, snapshot, targets. */
  async refresh(): Promise<void> {
    this.#updater = undefined;
    const updater = await this.#newUpdater();
    try {
      await updater.refresh();
    } catch (error) {
      throw wrapTufError(error, this.#recorder.last);
    }
    this.#updater = updater;
  }

  /** Every target of the top-level targets role (after refresh), with its signed custom field. */
  // eslint-disable-next-line @typescript-eslint/require-await -- async so misuse rejects, never throws
  async listTargets(): Promise<readonly TrustedTarget[]> {
    const targets = trustedTargets(this.#refreshed());
    if (targets === undefined) throw notRefreshed();
    return Object.values(targets.signed.targets).map(toTrustedTarget);
  }

  /** A target by path, searching delegations in order (spec 5.6.7); undefined when none lists it. */
  async getTarget(path: string): Promise<TrustedTarget | undefined> {
    const updater = this.#refreshed();
    try {
      const info = await updater.getTargetInfo(path);
      return info === undefined ? undefined : toTrustedTarget(info);
    } catch (error) {
      throw wrapTufError(error, this.#recorder.last);
    }
  }

  /** URL of a target file (consistent snapshot: <targetsUrl>/<dir>/<sha256>.<name>, spec 5.7.3). */
  targetUrl(target: TrustedTarget): string {
    const segments = target.path.split('/');
    // URL parsing resolves `.` and `..` segments (even percent-encoded), which would leave the
    // targets folder on the server: such a signed path is refused rather than rewritten.
    if (segments.some((s) => s === '' || /^(\.|%2e){1,2}$/i.test(s)))
      throw new DataError(
        'BAD_TARGET_PATH',
        `The signed target path "${target.path}" has an empty, "." or ".." segment and cannot be ` +
          `downloaded safely. Tell the publisher.`,
      );
    if (consistentSnapshot(this.#refreshed())) {
      const hash = target.hashes['sha256'] ?? Object.values(target.hashes)[0];
      if (hash === undefined)
        throw new DataError(
          'TARGET_MISMATCH',
          `The signed metadata of ${target.path} lists no hash. Tell the publisher.`,
        );
      segments[segments.length - 1] = `${hash}.${segments[segments.length - 1] ?? ''}`;
    }
    const base = this.#options.targetsUrl.replace(/\/+$/, '');
    return `${base}/${segments.map(encodeURIComponent).join('/')}`;
  }

  #refreshed(): Updater {
    if (this.#updater === undefined) throw notRefreshed();
    return this.#updater;
  }

  async #newUpdater(): Promise<Updater> {
    const { metadataDir } = this.#options;
    const rootPath = join(metadataDir, metadataFileName(MetadataKind.Root));
    let rootBytes: Buffer;
    try {
      rootBytes = await readFile(rootPath);
    } catch (cause) {
      throw new InstallError(
        'NO_TRUSTED_ROOT',
        `There is no trusted root in ${metadataDir} (${messageOf(cause)}). Ship the app with its ` +
          `root.json and call TufClient.initialize() on first run.`,
        { cause },
      );
    }
    // Refuse a bad trusted root before any request (the Updater would too, with a worse message).
    checkTrustedRoot(rootBytes, rootPath);
    this.#recorder = { last: undefined };
    const now = this.#options.now?.();
    let updater: Updater;
    try {
      updater = new Updater({
        metadataDir,
        metadataBaseUrl: this.#options.metadataUrl,
        targetBaseUrl: this.#options.targetsUrl,
        fetcher: tufJsFetcher(this.#options.fetcher, this.#recorder, this.#options.signal),
        // Our limits are named as tuf-js's config names them (TufLimits), all set.
        config: { ...this.#limits },
      });
    } catch (error) {
      throw trustedRootInvalid(rootPath, error);
    }
    patchUpdater(updater, metadataDir, now, this.#recorder);
    return updater;
  }
}

function notRefreshed(): UsageError {
  return new UsageError('NOT_REFRESHED', 'Call TufClient.refresh() before reading targets.');
}

function trustedRootInvalid(where: string, cause: unknown): DataError {
  return new DataError(
    'TRUSTED_ROOT_INVALID',
    `The trusted root (${where}) is not a valid root signed by its own keys: ${messageOf(cause)}. ` +
      `Reinstall the app or its root.json from a trusted source.`,
    { cause },
  );
}

function isValidRoot(bytes: Uint8Array): boolean {
  try {
    checkTrustedRoot(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Parses and checks root bytes: a root, signed by a threshold of its own root keys (spec 5.2). */
function checkTrustedRoot(bytes: Uint8Array, where = 'the given root'): void {
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json))
      throw new TypeError('not a JSON object');
    const root = Metadata.fromJSON(MetadataKind.Root, json as Parameters<typeof Metadata.fromJSON>[1]);
    if (root.signed.type !== MetadataKind.Root)
      throw new TypeError(`expected a root, got ${String(root.signed.type)}`);
    root.verifyDelegate(MetadataKind.Root, root);
  } catch (cause) {
    throw trustedRootInvalid(where, cause);
  }
}
