import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { TargetFile } from '@tufjs/models';
import { folderFilePaths, gunzipTo, packFolder, tarFilePaths } from '../archive/index.js';
import { toCustom } from '../core/custom-metadata.js';
import { droppedFiles, dropsMostFiles } from '../core/dropped-files.js';
import {
  applyPatch,
  createPatch,
  PATCH_FORMAT,
  PATCH_FORMAT_2,
  type PatchFormatVersion,
} from '../diff/index.js';
import type { ArchiveMeta, Digest, PatchMeta } from '../core/custom-metadata.js';
import { archiveName, checkAppName, patchName } from '../core/target-name.js';
import { compareVersions, parseVersion } from '../core/version.js';
import { DataError, InternalError, UsageError, messageOf } from '../errors.js';
import { digestFile } from '../io/digest.js';
import { findNonCanonical } from './canonical-json.js';
import type { RepoConfig } from './config.js';
import type { PassphraseSource } from './key-store.js';
import { openKeyring, signersFor } from './keyring.js';
import type { Keyring } from './keyring.js';
import { buildUpdate, nextTargets } from './metadata-update.js';
import { latestRelease, listReleases, targetFileRel } from './release-list.js';
import type { Release } from './release-list.js';
import { loadForEdit } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';
import { commitWrites } from './repository-writer.js';
import type { StagedWrite, StepHook } from './repository-writer.js';
import { makeDirs } from '../io/make-dirs.js';

/** What the patch engine gives back (src/diff createPatch). */
export interface PatchResult {
  readonly source: Digest;
  readonly result: Digest;
  readonly patchLength: number;
  readonly patchSha256: string;
}

export interface PatchMaker {
  readonly format: string;
  /**
   * Makes the patch; resolves to undefined (writing nothing) when it would be longer than
   * `limits.maxLength` (a maker may ignore the limit: `release add` checks the length again).
   */
  create(
    oldTar: string,
    newTar: string,
    patchPath: string,
    limits?: { readonly maxLength: number },
  ): Promise<PatchResult | undefined>;
  /**
   * Applies a patch as a client will; must throw unless the output matches `expected.result`.
   * `release add` runs it before signing: a patch that fails for every client would make every
   * client fall back to the full archive.
   */
  check?(
    oldTar: string,
    patchPath: string,
    outPath: string,
    expected: { source: Digest; result: Digest },
  ): Promise<void>;
}

export interface AddReleaseOptions {
  /** App name (default: the config's app). */
  readonly app?: string;
  readonly required?: boolean;
  /** Percentage of installs offered this release, a whole number 1-100 (default 100). */
  readonly rollout?: number;
  /** Free-form signed fields shown to the app (changelog, ...). */
  readonly user?: Readonly<Record<string, unknown>>;
  /** Do not make a patch from the previous release. */
  readonly skipPatch?: boolean;
  /** Keep the files' real modification times in the archive. */
  readonly keepMtime?: boolean;
  /**
   * Release even when the folder drops most of the previous release's files (an intended rewrite,
   * not a wrong build folder). An empty folder is refused all the same.
   */
  readonly force?: boolean;
  readonly passphrase?: PassphraseSource;
  readonly now?: Date;
  /**
   * Patch format of src/diff's engine (default 2). Format 2 patches are smaller for ARM64 code but
   * clients older than format 2 cannot apply them (they take the full archive): see docs/publisher.md.
   */
  readonly patchFormat?: PatchFormatVersion;
  /** The patch engine (default: src/diff's createPatch in `patchFormat`). */
  readonly patchMaker?: PatchMaker;
  /** Test seam, see commitWrites. */
  readonly onStep?: StepHook;
}

export interface AddReleaseResult {
  readonly app: string;
  readonly version: string;
  readonly archive: { readonly name: string; readonly length: number; readonly sha256: string };
  readonly tar: Digest;
  readonly patch?: { readonly name: string; readonly length: number; readonly from: string };
  readonly targetsVersion: number;
}

/**
 * A patch is published only when it is smaller than this share of the full archive. A larger one
 * (a release of mostly new, incompressible files) saves clients little download for the work of
 * applying it, and a chain of patches that adds up to more than the archive is never taken: the
 * client plans the full archive then. Not making it also spares the publisher the patch's check.
 */
export const MAX_PATCH_SHARE = 0.9;
/** Archives below this size always get their patch: it costs the publisher next to nothing. */
const PATCH_SHARE_FROM = 1 << 20;

/** The patch engine of src/diff, writing format `version`. */
export function diffPatchMaker(version: PatchFormatVersion): PatchMaker {
  return {
    format: version === 1 ? PATCH_FORMAT : PATCH_FORMAT_2,
    create: async (oldTar, newTar, patchPath, limits) => {
      try {
        return await createPatch(oldTar, newTar, patchPath, { format: version, ...limits });
      } catch (error) {
        if (error instanceof DataError && error.code === 'PATCH_TOO_LARGE') return undefined;
        throw error;
      }
    },
    check: async (oldTar, patchPath, outPath, expected) => {
      await applyPatch(oldTar, patchPath, outPath, {
        expectedSource: expected.source,
        expectedResult: expected.result,
      });
    },
  };
}

/** The patch engine of src/diff in its newest format. */
export const DIFF_PATCH_MAKER: PatchMaker = diffPatchMaker(2);

async function checkFolder(folder: string): Promise<void> {
  let info;
  try {
    info = await stat(folder);
  } catch (cause) {
    throw new UsageError(
      'FOLDER_MISSING',
      `release folder ${folder} does not exist: build the app first, then pass its folder`,
      { cause },
    );
  }
  if (!info.isDirectory()) {
    throw new UsageError(
      'NOT_A_FOLDER',
      `${folder} is a file, not a folder: pass the folder that holds the built app`,
    );
  }
}

function within(parent: string, child: string): boolean {
  const r = relative(resolve(parent), resolve(child));
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/**
 * The app folder must not hold the key folder (private keys would be packed and published), the
 * repository or the cache, nor be inside them: `release add 1.0.0 .` in the project folder is the
 * mistake this stops.
 */
function checkFolderPlace(config: RepoConfig, folder: string): void {
  const places = [
    ['key folder', config.keys],
    ['repository', config.repository],
    ['cache', config.cache],
  ] as const;
  for (const [what, path] of places) {
    if (within(folder, path)) {
      throw new UsageError(
        'FOLDER_HOLDS_PROJECT',
        `${folder} contains the ${what} ${path}: pass the folder of the built app only (e.g. ./dist), never the project folder`,
      );
    }
    if (within(path, folder)) {
      throw new UsageError(
        'FOLDER_IN_PROJECT',
        `${folder} is inside the ${what} ${path}: pass the folder of the built app`,
      );
    }
  }
}

function checkUser(user: unknown): Record<string, unknown> {
  if (typeof user !== 'object' || user === null || Array.isArray(user)) {
    throw new UsageError(
      'INVALID_META',
      '--meta must be a JSON object, e.g. {"notes":"Fixes crash on start"}',
    );
  }
  const bad = findNonCanonical(user);
  if (bad !== undefined) {
    throw new UsageError(
      'INVALID_META',
      `--meta value at ${bad} is not a whole number: signed TUF metadata (canonical JSON) allows only integers; write it as a string`,
    );
  }
  return user as Record<string, unknown>;
}

/** The cached uncompressed tar of a release, in the publisher's cache. */
export function publisherTarPath(config: RepoConfig, app: string, version: string): string {
  return join(config.cache, 'tars', `${app}-${version}.tar`);
}

/**
 * The uncompressed tar of `release`: from the cache when its bytes match the signed digest, else
 * rebuilt by gunzipping the archive from the repository (checked against the signed digest).
 */
async function previousTar(config: RepoConfig, release: Release, workDir: string): Promise<string> {
  const cached = publisherTarPath(config, release.app, release.version);
  try {
    const d = await digestFile(cached);
    if (d.sha256 === release.meta.tar.sha256 && d.length === release.meta.tar.length) return cached;
  } catch {
    // not cached: rebuild below
  }
  const out = join(workDir, 'previous.tar');
  await gunzipTo(
    join(config.repository, ...targetFileRel(release.archive, release.archiveSha256).split('/')),
    out,
    release.meta.tar,
  );
  return out;
}

/** Refuses a release that drops most of the previous release's files (see dropsMostFiles). */
async function checkDroppedFiles(
  previousTarPath: string,
  newFiles: readonly string[],
  previous: Release,
  folder: string,
  version: string,
): Promise<void> {
  const dropped = droppedFiles(await tarFilePaths(previousTarPath), new Set(newFiles));
  if (!dropsMostFiles(dropped)) return;
  const shown = dropped.missing.slice(0, 5).join(', ');
  const more = dropped.missing.length > 5 ? `, and ${dropped.missing.length - 5} more` : '';
  throw new UsageError(
    'RELEASE_DROPS_FILES',
    `${folder} lacks ${dropped.missing.length} of the ${dropped.previousCount} files of ${previous.app} ${previous.version} (${shown}${more}): is it the right build folder? If ${version} really drops them, run again with --force (library: force: true)`,
  );
}

/**
 * `release add`: packs `folder` as `<app>-<version>.tar.gz`, makes the patch from the previous
 * release of the same app, adds both with their signed custom metadata, signs targets, snapshot and
 * timestamp, and writes it all at once. Any failure leaves the repository as it was.
 */
export function addRelease(
  config: RepoConfig,
  version: string,
  folder: string,
  options: AddReleaseOptions = {},
): Promise<AddReleaseResult> {
  return withRepositoryLock(config, () => addReleaseLocked(config, version, folder, options));
}

async function addReleaseLocked(
  config: RepoConfig,
  version: string,
  folder: string,
  options: AddReleaseOptions,
): Promise<AddReleaseResult> {
  const { app, ver, rollout, user, newFiles } = await checkReleaseInput(config, version, folder, options);
  const now = options.now ?? new Date();
  const state = await loadForEdit(config.repository, now);
  const previous = latestRelease(state.targets.signed, app);
  if (previous !== undefined && compareVersions(ver, previous.version) <= 0) {
    throw new UsageError(
      'VERSION_NOT_NEWER',
      `${app} ${ver} is not newer than the latest release ${previous.version}: use a higher version (PEP 440 order)`,
    );
  }
  const keyring = openKeyring(config.keys, options.passphrase);
  // Decrypt the keys first: a wrong passphrase should fail before minutes of packing.
  for (const role of ['targets', 'snapshot', 'timestamp'] as const)
    await signersFor(keyring, [state.root.signed], role);

  await makeDirs(config.cache);
  const workDir = await mkdtemp(join(config.cache, 'work-'));
  try {
    const aName = archiveName(app, ver);
    const archivePath = join(workDir, aName);
    const tarPath = join(workDir, `${app}-${ver}.tar`);
    // The previous tar is needed for the files check and for the patch: rebuild it at most once.
    let oldTarPath: string | undefined;
    const oldTar = async (release: Release): Promise<string> =>
      (oldTarPath ??= await previousTar(config, release, workDir));
    if (previous !== undefined && options.force !== true)
      await checkDroppedFiles(await oldTar(previous), newFiles, previous, folder, ver);
    const packed = await packFolder(folder, archivePath, { tarPath, keepMtime: options.keepMtime === true });
    const archiveMeta: ArchiveMeta = {
      kind: 'archive',
      app,
      version: ver,
      tar: packed.tar,
      required: options.required === true,
      rollout,
      user,
    };
    const files = { ...state.targets.signed.targets };
    const writes: StagedWrite[] = [];
    files[aName] = signedTarget(aName, packed.archive, archiveMeta);
    writes.push({ rel: targetFileRel(aName, packed.archive.sha256), file: archivePath, move: true });

    let patch: AddReleaseResult['patch'];
    const maker = options.patchMaker ?? diffPatchMaker(options.patchFormat ?? 2);
    if (previous !== undefined && options.skipPatch !== true && maker !== undefined) {
      const made = await makeCheckedPatch(maker, workDir, {
        app,
        version: ver,
        previous,
        sourceTar: await oldTar(previous),
        tarPath,
        tar: packed.tar,
        archiveLength: packed.archive.length,
      });
      if (made !== undefined) {
        files[made.name] = made.target;
        writes.push(made.write);
        patch = made.patch;
      }
    }
    const update = await commitTargets(config, { state, now, keyring, files, writes }, options.onStep);
    await keepPublisherTar(config, tarPath, app, ver);
    return {
      app,
      version: ver,
      archive: { name: aName, length: packed.archive.length, sha256: packed.archive.sha256 },
      tar: packed.tar,
      ...(patch === undefined ? {} : { patch }),
      targetsVersion: update.targets.signed.version,
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The app, version, rollout, user fields and folder of `release add`, checked before any work. */
async function checkReleaseInput(
  config: RepoConfig,
  version: string,
  folder: string,
  options: AddReleaseOptions,
): Promise<{
  app: string;
  ver: string;
  rollout: number;
  user: ArchiveMeta['user'];
  newFiles: string[];
}> {
  const app = checkAppName(options.app ?? config.app);
  const ver = parseVersion(version).text;
  const rollout = options.rollout ?? 100;
  if (!Number.isInteger(rollout) || rollout < 1 || rollout > 100) {
    throw new UsageError('INVALID_ROLLOUT', `rollout ${rollout} is not a whole percentage from 1 to 100`);
  }
  const user = checkUser(options.user ?? {});
  await checkFolder(folder);
  checkFolderPlace(config, folder);
  const newFiles = await folderFilePaths(folder);
  if (newFiles.length === 0) {
    throw new UsageError(
      'EMPTY_RELEASE_FOLDER',
      `release folder ${folder} holds no files: clients would replace the app with an empty folder. Build the app first, then pass the folder that holds it`,
    );
  }
  return { app, ver, rollout, user, newFiles };
}

/** A target file entry of signed targets metadata, with our custom metadata. */
function signedTarget(
  name: string,
  file: { length: number; sha256: string },
  custom: ArchiveMeta | PatchMeta,
): TargetFile {
  return new TargetFile({
    path: name,
    length: file.length,
    hashes: { sha256: file.sha256 },
    unrecognizedFields: { custom: toCustom(custom) as never },
  });
}

/**
 * The patch from the previous release's tar to the new one, checked before anything is signed: it
 * must be made from and to the signed tars, and (when the engine can) rebuild the new tar. A patch
 * engine bug is an InternalError: nothing was changed. Undefined when the patch would be larger than
 * MAX_PATCH_SHARE of an archive of 1 MiB or more: then nothing is made or checked (the engine stops
 * matching once the patch is past that size).
 */
async function makeCheckedPatch(
  maker: PatchMaker,
  workDir: string,
  p: {
    app: string;
    version: string;
    previous: Release;
    sourceTar: string;
    tarPath: string;
    tar: Digest;
    archiveLength: number;
  },
): Promise<
  | {
      name: string;
      target: TargetFile;
      write: StagedWrite;
      patch: NonNullable<AddReleaseResult['patch']>;
    }
  | undefined
> {
  const { app, version: ver, previous } = p;
  const pName = patchName(app, ver);
  const patchPath = join(workDir, pName);
  const maxLength =
    p.archiveLength < PATCH_SHARE_FROM ? Infinity : Math.floor(p.archiveLength * MAX_PATCH_SHARE);
  const limits = maxLength === Infinity ? undefined : { maxLength };
  const made = await maker.create(p.sourceTar, p.tarPath, patchPath, limits);
  if (made === undefined || made.patchLength > maxLength) {
    // A maker may ignore the limit: the patch is dropped all the same.
    await rm(patchPath, { force: true });
    return undefined;
  }
  const same = (a: Digest, b: Digest): boolean => a.sha256 === b.sha256 && a.length === b.length;
  if (!same(made.source, previous.meta.tar) || !same(made.result, p.tar)) {
    throw new InternalError(
      'PATCH_MISMATCH',
      `the patch engine made a patch from/to other tars than ${app} ${previous.version} -> ${ver}; nothing was changed (retry with --skip-patch and report this)`,
    );
  }
  if (maker.check !== undefined) {
    const checkPath = join(workDir, 'check.tar');
    try {
      await maker.check(p.sourceTar, patchPath, checkPath, { source: previous.meta.tar, result: p.tar });
    } catch (cause) {
      throw new InternalError(
        'PATCH_CHECK_FAILED',
        `the patch ${previous.version} -> ${ver} does not rebuild the new tar (${messageOf(cause)}); nothing was changed (retry with --skip-patch and report this)`,
        { cause },
      );
    }
    await rm(checkPath, { force: true });
  }
  const patchMeta: PatchMeta = {
    kind: 'patch',
    app,
    version: ver,
    format: maker.format,
    source: { ...made.source, version: previous.version },
    result: made.result,
  };
  return {
    name: pName,
    target: signedTarget(pName, { length: made.patchLength, sha256: made.patchSha256 }, patchMeta),
    write: { rel: targetFileRel(pName, made.patchSha256), file: patchPath, move: true },
    patch: { name: pName, length: made.patchLength, from: previous.version },
  };
}

/**
 * Signs the next targets (with these `files`), snapshot and timestamp, and commits them with the
 * target files in `writes`, in the order clients can never see torn (repository-writer.ts).
 */
async function commitTargets(
  config: RepoConfig,
  next: {
    state: Awaited<ReturnType<typeof loadForEdit>>;
    now: Date;
    keyring: Keyring;
    files: Parameters<typeof nextTargets>[3];
    writes: readonly StagedWrite[];
  },
  onStep: StepHook | undefined,
): Promise<Awaited<ReturnType<typeof buildUpdate>>> {
  const { state, now, keyring } = next;
  const update = await buildUpdate({
    state,
    now,
    expiry: config.expiry,
    keyring,
    targets: nextTargets(state.targets.signed, now, config.expiry, next.files),
  });
  await commitWrites(config.repository, [...next.writes, ...update.writes], onStep);
  return update;
}

/** Keeps the tar for the next release's patch (best effort: it can be rebuilt from the archive). */
async function keepPublisherTar(
  config: RepoConfig,
  tarPath: string,
  app: string,
  ver: string,
): Promise<void> {
  try {
    await makeDirs(join(config.cache, 'tars'));
    await rename(tarPath, publisherTarPath(config, app, ver));
  } catch {
    // the cache is an optimisation only
  }
}

export interface RemoveLatestResult {
  readonly removed: Release;
  readonly targetsVersion: number;
}

/**
 * `release remove-latest`: drops the newest release of `app` (archive and patch) from the signed
 * targets, so clients stop offering it. Its files stay in targets/ (older snapshots name them).
 */
export function removeLatestRelease(
  config: RepoConfig,
  options: { app?: string; passphrase?: PassphraseSource; now?: Date; onStep?: StepHook } = {},
): Promise<RemoveLatestResult> {
  return withRepositoryLock(config, () => removeLatestLocked(config, options));
}

async function removeLatestLocked(
  config: RepoConfig,
  options: { app?: string; passphrase?: PassphraseSource; now?: Date; onStep?: StepHook },
): Promise<RemoveLatestResult> {
  const app = checkAppName(options.app ?? config.app);
  const now = options.now ?? new Date();
  const state = await loadForEdit(config.repository, now);
  const latest = latestRelease(state.targets.signed, app);
  if (latest === undefined) throw new UsageError('NO_RELEASE', `${app} has no release to remove`);
  const files = { ...state.targets.signed.targets };
  delete files[latest.archive];
  if (latest.patch !== undefined) delete files[latest.patch.name];
  // A later patch starting from the removed version would now be orphaned: there is none, since
  // this was the latest.
  const keyring = openKeyring(config.keys, options.passphrase);
  const update = await commitTargets(config, { state, now, keyring, files, writes: [] }, options.onStep);
  return { removed: latest, targetsVersion: update.targets.signed.version };
}

/** `release list`: every release in the repository (all apps unless `app`). */
export async function readReleases(
  config: RepoConfig,
  options: { app?: string; now?: Date } = {},
): Promise<Release[]> {
  const state = await loadForEdit(config.repository, options.now ?? new Date());
  const all = listReleases(state.targets.signed);
  return options.app === undefined ? all : all.filter((r) => r.app === options.app);
}
