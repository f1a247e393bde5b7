/**
 * The install pipeline, step by step: download (patches, or the full archive), the source tar the
 * patches apply to, rebuild of the new version's tar, strict unpack into a staging folder beside
 * the install folder, and the new tar kept for the next update. The hand-over that follows is
 * quit-and-install.ts; the first install (first-install.ts) shares the rebuild and unpack steps.
 */
import { rename, rm } from 'node:fs/promises';
import { DataError, InstallError } from '../errors.js';
import { unpackArchive } from '../archive/index.js';
import type { Digest, PatchMeta } from '../core/custom-metadata.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { DownloadProgress, InstallOptions, Update } from './client-options.js';
import type { DownloadEdges } from './download.js';
import { downloadTargets } from './download.js';
import { throttleProgress } from './progress.js';
import type { RebuildResult } from './rebuild-tar.js';
import { rebuildTar } from './rebuild-tar.js';
import { ensureSourceTar } from './source-tar.js';
import type { StateLayout } from './state-layout.js';
import { cachedTarPath, stagingDirFor } from './state-layout.js';
import { readState, writeState } from './state.js';
import { makeDirs } from '../io/make-dirs.js';

/** What every step of one install works with. */
export interface InstallWork {
  readonly appName: string;
  readonly installDir: string;
  readonly layout: StateLayout;
  readonly edges: DownloadEdges;
}

type PatchUpdate = Extract<Update, { kind: 'patches' }>;
type ChainStep = { readonly meta: PatchMeta; readonly path: string };

/**
 * Stages `update` over the installed `currentVersion` (whose signed tar is `currentTar`, when the
 * repository still lists it): resolves with how the new tar was built and the staging folder.
 */
export async function stageUpdate(
  work: InstallWork,
  update: Update,
  current: { readonly version: string; readonly tar: Digest | undefined },
  options: InstallOptions,
): Promise<{ via: RebuildResult['via']; stagingDir: string }> {
  const { layout } = work;
  await freshWorkDir(layout);
  const stage = options.onStage ?? (() => undefined);
  stage('download');
  let chain: readonly ChainStep[] = [];
  let sourceTar: string | undefined;
  if (update.kind === 'patches') {
    const patches = await downloadPatches(update, work.edges, options);
    chain = patches ?? [];
    if (patches !== undefined && current.tar !== undefined) {
      stage('source');
      sourceTar = await ensureSourceTar(layout.tarsDir, work.installDir, current.version, current.tar);
    }
  }
  stage('rebuild');
  const rebuilt = await rebuildNewTar(work, update, { chain, sourceTar }, options);
  stage('unpack');
  const stagingDir = stagingDirFor(work.installDir, update.version);
  const unpackProgress = workProgress('unpack', newTarName(work, update), options.onProgress);
  await unpackToStaging(rebuilt.tarPath, stagingDir, update.release.tar, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(unpackProgress ? { onProgress: unpackProgress } : {}),
  });
  // Until this process exits (or hands over), a second instance's cleanup keeps the staged folder.
  await writeFileAtomic(layout.stagedPidFile, `${process.pid}\n`);
  await keepTar(layout, rebuilt.tarPath, update.version);
  stage('staged');
  return { via: rebuilt.via, stagingDir };
}

/** An empty work folder for one rebuild. */
export async function freshWorkDir(layout: StateLayout): Promise<void> {
  await rm(layout.workDir, { recursive: true, force: true });
  await makeDirs(layout.workDir);
}

function newTarName(work: InstallWork, update: Update): string {
  return `${work.appName}-${update.version}.tar`;
}

/**
 * The patch files of the chain with their verified paths, or undefined when one does not match its
 * signed hash (corrupted on the server or a CDN): a patch failure like any other, so the full
 * archive is taken, verified the same way. Network failures and cancelling are not: they propagate
 * (retry later; downloads resume).
 */
async function downloadPatches(
  update: PatchUpdate,
  edges: DownloadEdges,
  options: InstallOptions,
): Promise<ChainStep[] | undefined> {
  try {
    const paths = await downloadTargets(
      update.chain.map((s) => s.target),
      edges,
      { ...options },
    );
    return update.chain.map((s, i) => ({ meta: s.meta, path: paths[i] ?? '' }));
  } catch (error) {
    if (!(error instanceof DataError)) throw error;
    return undefined;
  }
}

/** The new version's tar in the work folder: by the patch chain when there is one, else (or when a step fails) from the full archive. */
async function rebuildNewTar(
  work: InstallWork,
  update: Update,
  from: { readonly chain: readonly ChainStep[]; readonly sourceTar: string | undefined },
  options: InstallOptions,
): Promise<RebuildResult> {
  const rebuildProgress = workProgress('rebuild', newTarName(work, update), options.onProgress);
  return rebuildTar({
    workDir: work.layout.workDir,
    release: update.release,
    chain: from.chain,
    ...(rebuildProgress ? { onProgress: rebuildProgress } : {}),
    ...(from.sourceTar !== undefined ? { sourceTar: from.sourceTar } : {}),
    fullArchive: () => downloadFullArchive(work, update, options),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The full archive, after the patches failed (or were refused) or when there were none. */
async function downloadFullArchive(
  work: InstallWork,
  update: Update,
  options: InstallOptions,
): Promise<string> {
  // Remember a patch failure before the archive is fetched, so a retry after a failed archive too
  // does not download the same bad patches again.
  if (update.kind === 'patches') await rememberNoPatches(work.layout, update.version);
  // After patches, the archive's bytes continue the same progress (done and total grow).
  const before = update.kind === 'patches' ? update.downloadBytes : 0;
  const onProgress = options.onProgress;
  const progress = onProgress
    ? {
        onProgress: (p: DownloadProgress) =>
          onProgress({ ...p, bytesDone: before + p.bytesDone, totalBytes: before + p.totalBytes }),
      }
    : {};
  const [path] = await downloadTargets([update.archive.target], work.edges, { ...options, ...progress });
  if (path === undefined) throw new InstallError('DOWNLOAD_FAILED', 'the full archive was not downloaded');
  return path;
}

/** Records that patches to `version` failed on this install: its next plans take the full archive. */
async function rememberNoPatches(layout: StateLayout, version: string): Promise<void> {
  const state = await readState(layout);
  if (!state.noPatchesTo.includes(version))
    await writeState(layout, { ...state, noPatchesTo: [...state.noPatchesTo, version] });
}

/**
 * Unpacks the tar strictly into a new `stagingDir` (removed again when that fails). The tar was
 * checked when it was built; the unpack checks it again as it reads it (the bytes on disk could
 * have changed since), so only the signed tar is ever staged.
 */
export async function unpackToStaging(
  tarPath: string,
  stagingDir: string,
  expectedTar: Digest,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void },
): Promise<void> {
  await rm(stagingDir, { recursive: true, force: true });
  const { onProgress } = options;
  try {
    onProgress?.(0, expectedTar.length);
    await unpackArchive(tarPath, stagingDir, {
      expectedTar,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(onProgress ? { onProgress: (n: number) => onProgress(n, expectedTar.length) } : {}),
    });
    onProgress?.(expectedTar.length, expectedTar.length);
  } catch (error) {
    await rm(stagingDir, { recursive: true, force: true });
    throw error;
  }
}

/** Keeps the new tar (what the next update's first patch applies to) and removes the work folder. */
export async function keepTar(layout: StateLayout, tarPath: string, version: string): Promise<void> {
  await makeDirs(layout.tarsDir);
  await rename(tarPath, cachedTarPath(layout.tarsDir, version));
  await rm(layout.workDir, { recursive: true, force: true });
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
