/**
 * What a Client does once, on its first call after the app started: finish or undo a swap a crash
 * interrupted, read the last hand-over's result (record a roll back, or the version the installer
 * kept), give up on an installer that never reported, and clean what is settled.
 */
import { rm } from 'node:fs/promises';
import { InstallError } from '../errors.js';
import { cleanSettled } from './cache-hygiene.js';
import type { HandoverResult } from './handover.js';
import { readHandoverResult } from './handover.js';
import { isRunning } from './install.js';
import { readInstalledRecord, recordedVersion } from './installed-record.js';
import { folderIdentity, recordInPlace } from './installed-version.js';
import { installerDied, restoreInterruptedSwap } from './interrupted-swap.js';
import type { StateLayout } from './state-layout.js';
import { handoverResultPath } from './state-layout.js';
import type { ClientState } from './state.js';
import { claimStateDir, readState, readTextIfSmall, writeState } from './state.js';
import { acquireUpdateLock } from './update-lock.js';

export interface SettleInput {
  readonly installDir: string;
  readonly layout: StateLayout;
  /** The version the app says it is, if it says. */
  readonly givenVersion: string | undefined;
  /** The version the Client knows is installed already, if any. */
  readonly knownVersion: string | undefined;
}

export interface Settled {
  /** The install folder this process started from (device and inode). */
  readonly installIdentity: string | undefined;
  /** The installer's result this start found (installed, rolled back or failed), if any. */
  readonly lastResult: HandoverResult | undefined;
  /** The installed version, when known now (by the installer's result or the client's record). */
  readonly knownVersion: string | undefined;
}

/** The state without its pending hand-over. */
function settled(state: ClientState): ClientState {
  return { skipped: state.skipped, noPatchesTo: state.noPatchesTo };
}

export async function settleAtStart(input: SettleInput): Promise<Settled> {
  const { installDir, layout } = input;
  await claimStateDir(layout);
  const atStart = await readState(layout);
  const pendingAtStart = atStart.pending;
  // An installer killed between its two renames left no install folder: put the old one back first.
  const restored = pendingAtStart !== undefined && (await restoreInterruptedSwap(installDir, pendingAtStart));
  const installIdentity = await folderIdentity(installDir);
  const found = await takeHandoverResult(layout, atStart);
  let { state, settledNow } = found;
  const result = found.result;
  let lastResult = result;
  let knownVersion = input.knownVersion;
  // The installer kept the new version: record it (a roll back put the recorded folder back).
  if (result?.outcome === 'installed' && pendingAtStart?.version === result.version)
    knownVersion = (await recordInPlace(layout, installDir, pendingAtStart)) ?? knownVersion;
  const p = state.pending;
  if (result === undefined && p !== undefined && restored) {
    lastResult = {
      outcome: 'failed',
      version: p.version,
      previousVersion: p.previousVersion,
      reason: 'the installer was interrupted during the swap; the previous version was restored',
    };
    state = settled(state);
    await writeState(layout, state);
    settledNow = true;
  } else if (
    result === undefined &&
    p !== undefined &&
    ((p.startedAt !== undefined && p.deadlineMs !== undefined && Date.now() - p.startedAt > p.deadlineMs) ||
      (await installerDied(layout.root, p)))
  ) {
    // The installer never reported (past its time limits, or known dead): the install folder
    // (currentVersion) is the truth.
    state = settled(state);
    await writeState(layout, state);
    settledNow = true;
  }
  // A record that still matches the install folder names its version (and wins over a stale
  // currentVersion); with neither, the version is found on the first check (keep every tar until then).
  knownVersion ??= await recordedVersion(await readInstalledRecord(layout), installDir);
  const keep = [knownVersion, input.givenVersion].filter((v): v is string => v !== undefined);
  if (state.pending === undefined) await cleanUpUnlessBusy(input, keep, settledNow);
  return { installIdentity, lastResult, knownVersion };
}

/**
 * Reads (and removes) the installer's result file; records a rolled-back version as skipped. A
 * damaged result file settles the hand-over without a result: the install folder tells the truth.
 */
async function takeHandoverResult(
  layout: StateLayout,
  state: ClientState,
): Promise<{ result: HandoverResult | undefined; state: ClientState; settledNow: boolean }> {
  let result: HandoverResult | undefined;
  try {
    result = await readHandoverResult(layout.root);
  } catch {
    await rm(handoverResultPath(layout.root), { force: true });
    if (state.pending === undefined) return { result: undefined, state, settledNow: false };
    await writeState(layout, settled(state));
    return { result: undefined, state: settled(state), settledNow: true };
  }
  if (result === undefined) return { result, state, settledNow: false };
  const skipped =
    result.outcome === 'rolled-back' && !state.skipped.includes(result.version)
      ? [...state.skipped, result.version]
      : state.skipped;
  const next = { skipped, noPatchesTo: state.noPatchesTo };
  await writeState(layout, next);
  await rm(handoverResultPath(layout.root), { force: true });
  return { result, state: next, settledNow: true };
}

/**
 * Cleans what is settled, unless another instance of the app is downloading or unpacking (it holds
 * the update lock) or holds a staged update until its user quits: its files are not leftovers.
 */
async function cleanUpUnlessBusy(input: SettleInput, keep: string[], afterUpdate: boolean): Promise<void> {
  let release: (() => Promise<void>) | undefined;
  try {
    release = await acquireUpdateLock(input.layout.root);
  } catch (error) {
    if (!(error instanceof InstallError && error.code === 'UPDATE_IN_PROGRESS')) throw error;
  }
  if (release === undefined) return;
  try {
    await cleanSettled(input.layout, input.installDir, keep.length > 0 ? keep : undefined, {
      afterUpdate,
      keepStaging: await stagedByLiveProcess(input.layout),
    });
  } finally {
    await release();
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
