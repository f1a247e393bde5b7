/**
 * The first install: the newest release of the channel (that this install's rollout includes) put
 * into an install folder that does not exist yet or is empty, verified exactly like an update and
 * moved into place with one rename.
 */
import { rename, rm, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InstallError, UsageError, messageOf } from '../errors.js';
import type { PlanTargetInput } from '../core/plan.js';
import { appNotInRepository, appReleases, chooseFirstInstall } from '../core/plan.js';
import type { Channel } from '../core/version.js';
import type { DownloadOptions, FirstInstallResult, InstallStage } from './client-options.js';
import type { DownloadEdges } from './download.js';
import { downloadTargets } from './download.js';
import {
  folderFingerprint,
  readInstalledRecord,
  recordedVersion,
  writeInstalledRecord,
} from './installed-record.js';
import { folderContents } from './installed-version.js';
import { rebuildTar } from './rebuild-tar.js';
import { freshWorkDir, keepTar, unpackToStaging } from './stage-update.js';
import type { StateLayout } from './state-layout.js';
import { stagingDirFor } from './state-layout.js';
import { installRolloutId } from './state.js';
import { makeDirs } from '../io/make-dirs.js';

export interface FirstInstallWork {
  readonly appName: string;
  readonly installDir: string;
  readonly channel: Channel;
  readonly layout: StateLayout;
  readonly edges: DownloadEdges;
  /** The version of a folder that holds files (UsageError NOT_A_RELEASE when none). */
  readonly identify: (targets: readonly PlanTargetInput[]) => Promise<string>;
}

export type FirstInstallOptions = DownloadOptions & { readonly onStage?: (stage: InstallStage) => void };

/**
 * A folder that holds a signed release already is left as it is (`already-installed`); one that
 * holds anything else is refused (UsageError INSTALL_DIR_NOT_EMPTY), nothing changed.
 */
export async function firstInstall(
  work: FirstInstallWork,
  targets: readonly PlanTargetInput[],
  options: FirstInstallOptions,
): Promise<FirstInstallResult> {
  const { appName, installDir, layout } = work;
  const notEmpty = (what: string, cause?: unknown): UsageError =>
    new UsageError(
      'INSTALL_DIR_NOT_EMPTY',
      `${installDir} ${what}: install into a new or empty folder (nothing was changed)`,
      cause === undefined ? {} : { cause },
    );
  const contents = await folderContents(installDir);
  if (contents === 'not-a-folder') throw notEmpty('is a file, not a folder');
  if (contents === 'files') {
    const recorded = await recordedVersion(await readInstalledRecord(layout), installDir);
    if (recorded !== undefined) return { kind: 'already-installed', version: recorded };
    try {
      return { kind: 'already-installed', version: await work.identify(targets) };
    } catch (error) {
      if (error instanceof UsageError && error.code === 'NOT_A_RELEASE')
        throw notEmpty(`holds files that are not a release of ${appName}`, error);
      throw error;
    }
  }
  const chosen = await chooseRelease(work, targets);
  const version = chosen.meta.version;
  const stage = options.onStage ?? (() => undefined);
  await freshWorkDir(layout);
  stage('download');
  const rebuilt = await rebuildTar({
    workDir: layout.workDir,
    release: chosen.meta,
    chain: [],
    fullArchive: async () => {
      const [path] = await downloadTargets([chosen.target], work.edges, options);
      if (path === undefined) throw new InstallError('DOWNLOAD_FAILED', 'the archive was not downloaded');
      return path;
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  stage('unpack');
  const stagingDir = stagingDirFor(installDir, version);
  await makeDirs(dirname(installDir));
  await unpackToStaging(rebuilt.tarPath, stagingDir, chosen.meta.tar, {
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    // Still empty? (rmdir refuses a folder someone wrote into meanwhile.) Then one rename.
    if (contents === 'empty') {
      try {
        await rmdir(installDir);
      } catch (cause) {
        throw notEmpty('is no longer empty', cause);
      }
    }
    await moveIntoPlace(stagingDir, installDir);
  } catch (error) {
    await rm(stagingDir, { recursive: true, force: true });
    throw error;
  }
  // The tar is what the first update's patch applies to.
  await keepTar(layout, rebuilt.tarPath, version);
  await rm(layout.downloadsDir, { recursive: true, force: true });
  const fingerprint = await folderFingerprint(installDir);
  if (fingerprint !== undefined)
    await writeInstalledRecord(layout, { version, tar: chosen.meta.tar, installDir, fingerprint });
  return { kind: 'installed', version, downloadBytes: chosen.target.length };
}

/** The newest release of the channel that this install's rollout includes. */
async function chooseRelease(
  work: FirstInstallWork,
  targets: readonly PlanTargetInput[],
): Promise<NonNullable<ReturnType<typeof chooseFirstInstall>>> {
  const archives = appReleases(targets, work.appName).archives;
  if (archives.size === 0) throw appNotInRepository(targets, work.appName);
  const chosen = chooseFirstInstall(archives, {
    channel: work.channel,
    rolloutId: await installRolloutId(work.layout),
  });
  if (chosen === undefined)
    throw new UsageError(
      'NO_RELEASE',
      `the repository holds no release of ${work.appName} for the ${work.channel} channel to install: check appName and channel, or ask the publisher`,
    );
  return chosen;
}

async function moveIntoPlace(stagingDir: string, installDir: string): Promise<void> {
  try {
    await rename(stagingDir, installDir);
  } catch (cause) {
    throw new InstallError(
      'INSTALL_FAILED',
      `cannot move the new version into ${installDir} (${messageOf(cause)}): check that its parent folder is writable`,
      { cause },
    );
  }
}
