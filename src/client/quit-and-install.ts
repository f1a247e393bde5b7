/**
 * The last step of install: `quitAndInstall` records the pending hand-over in state.json and starts
 * the installer process, which waits for the app to exit, swaps the staged folder in and restarts
 * the app (handover.ts is the contract, install.ts starts it).
 */
import { rm } from 'node:fs/promises';
import type { Digest } from '../core/custom-metadata.js';
import type { ClientOptions, InstallOptions } from './client-options.js';
import { DEFAULT_HEALTH_TIMEOUT_SECONDS, DEFAULT_WAIT_TIMEOUT_SECONDS } from './client-options.js';
import { startHandover } from './install.js';
import { folderIdentity } from './installed-version.js';
import type { StateLayout } from './state-layout.js';
import { backupDirFor, handoverResultPath } from './state-layout.js';
import { readState, writeState } from './state.js';
import { acquireUpdateLock } from './update-lock.js';

const STALE_HANDOVER_MARGIN_SECONDS = 600;

/** A staged update, ready to be handed over. */
export interface StagedHandover {
  readonly appName: string;
  readonly installDir: string;
  readonly layout: StateLayout;
  readonly version: string;
  readonly previousVersion: string;
  readonly stagingDir: string;
  /** The new version's signed tar digest, recorded as installed once the installer keeps it. */
  readonly tar: Digest;
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

/** Runs `fn` once; later calls get the first call's promise (a second installer must never start). */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => (promise ??= fn());
}

/**
 * The `quitAndInstall` of a staged update: once, under the update lock (not while another instance
 * is staging: it may be rebuilding this very staging folder), after `checkUnchanged` (the install
 * folder is still the one the update was staged for). The restart command and the installer's time
 * limits are fixed now, when the update is staged.
 */
export function quitAndInstallFor(
  staged: StagedHandover,
  options: InstallOptions,
  clientOptions: Pick<ClientOptions, 'healthTimeoutSeconds' | 'waitTimeoutSeconds'>,
  checkUnchanged: () => Promise<void>,
): () => Promise<{ script: string; log: string }> {
  const restart = options.restart === false ? undefined : (options.restart ?? ownCommandLine());
  const limits = {
    healthTimeoutSeconds:
      restart === undefined ? 0 : (clientOptions.healthTimeoutSeconds ?? DEFAULT_HEALTH_TIMEOUT_SECONDS),
    waitTimeoutSeconds: clientOptions.waitTimeoutSeconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS,
  };
  return once(async () => {
    const release = await acquireUpdateLock(staged.layout.root);
    try {
      await checkUnchanged();
      return await handOver(staged, { ...limits, pid: options.pid ?? process.pid, restart });
    } finally {
      await release();
    }
  });
}

/**
 * Records the pending hand-over and starts the installer; when it cannot start, the record is
 * taken back (a pending hand-over would hide this version until its deadline).
 */
async function handOver(
  staged: StagedHandover,
  how: {
    healthTimeoutSeconds: number;
    waitTimeoutSeconds: number;
    pid: number;
    restart: Exclude<InstallOptions['restart'], false>;
  },
): Promise<{ script: string; log: string }> {
  const { layout, installDir, version, previousVersion, stagingDir } = staged;
  const stateDir = layout.root;
  const backupDir = backupDirFor(installDir, previousVersion);
  await rm(backupDir, { recursive: true, force: true });
  await rm(handoverResultPath(stateDir), { force: true });
  const state = await readState(layout);
  // The installer's own limits bound how long it can run; past them (plus a margin) a
  // missing result means it died, and the next start settles instead of waiting forever.
  const deadlineMs =
    (how.waitTimeoutSeconds + how.healthTimeoutSeconds + STALE_HANDOVER_MARGIN_SECONDS) * 1000;
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
      tar: staged.tar,
    },
  });
  const handover = startHandover({
    appName: staged.appName,
    version,
    previousVersion,
    installDir,
    stagingDir,
    backupDir,
    pid: how.pid,
    ...(how.restart !== undefined ? { restart: how.restart } : {}),
    stateDir,
    healthTimeoutSeconds: how.healthTimeoutSeconds,
    waitTimeoutSeconds: how.waitTimeoutSeconds,
  });
  try {
    return await handover;
  } catch (error) {
    // No installer runs: a pending hand-over would hide this version until its deadline.
    await writeState(layout, state);
    throw error;
  }
}
