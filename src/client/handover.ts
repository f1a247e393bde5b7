/**
 * The hand-over contract between the client (which prepares an update while the app runs) and the
 * installer script (which swaps folders after the app has exited). The script is generated per OS
 * (install.posix.ts, install.windows.ts) and started by `startHandover` (install.ts).
 *
 * Everything the script writes lives in `<stateDir>/handover/`: the script itself, its log, the
 * confirm file the new version writes, and `result.json`, read by the client on its next start.
 */
import { readFile } from 'node:fs/promises';
import { DataError, InstallError } from '../errors.js';
import { handoverResultPath } from './state-layout.js';

export interface HandoverPlan {
  readonly appName: string;
  /** The version being installed. */
  readonly version: string;
  readonly previousVersion: string;
  /** The app folder (absolute). */
  readonly installDir: string;
  /** The fully unpacked new version, a sibling of installDir (same volume, so rename works). */
  readonly stagingDir: string;
  /** Where the old installDir is moved, a sibling of installDir. */
  readonly backupDir: string;
  /** The app process to wait for (usually process.pid). */
  readonly pid: number;
  /**
   * Starts the new app; undefined = no restart (then no health check either). `cwd` defaults to the
   * installer's own folder (<stateDir>/handover), never the app's: pass process.cwd() to keep it.
   */
  readonly restart?: { readonly command: string; readonly args: readonly string[]; readonly cwd?: string };
  /** The client's per-app state folder: script, log and result go in <stateDir>/handover/. */
  readonly stateDir: string;
  /** How long the new version has to confirm; 0 = no health check. */
  readonly healthTimeoutSeconds: number;
  /** How long to wait for `pid` to exit before giving up (clean failure, nothing moved). */
  readonly waitTimeoutSeconds: number;
}

export type HandoverOutcome = 'installed' | 'rolled-back' | 'failed';

export interface HandoverResult {
  readonly outcome: HandoverOutcome;
  readonly version: string;
  readonly previousVersion: string;
  /** Why it rolled back or failed (a short stable phrase; the log has the details). */
  readonly reason?: string;
}

/** Environment variable set for the app the installer restarts (the new version, or the old one after a roll back). */
export const HANDOVER_ENV = 'NOTSOTUF_HANDOVER';

/** results are tiny; anything bigger was not written by our script */
const MAX_RESULT_LENGTH = 64 * 1024;

/** Parses result.json's bytes (a value in, a value out: no fs). DataError when it is not ours. */
export function parseHandoverResult(bytes: Uint8Array): HandoverResult {
  if (bytes.length > MAX_RESULT_LENGTH) {
    throw new DataError(
      'HANDOVER_RESULT_INVALID',
      `the installer's result file is ${bytes.length} bytes: too long`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new DataError(
      'HANDOVER_RESULT_INVALID',
      "the installer's result file is not valid JSON: see the install log beside it",
      { cause },
    );
  }
  if (typeof value !== 'object' || value === null) {
    throw new DataError('HANDOVER_RESULT_INVALID', "the installer's result file is not a JSON object");
  }
  const o = value as Record<string, unknown>;
  const outcome = o['outcome'];
  if (outcome !== 'installed' && outcome !== 'rolled-back' && outcome !== 'failed') {
    throw new DataError('HANDOVER_RESULT_INVALID', "the installer's result file has no valid outcome");
  }
  const version = o['version'];
  const previousVersion = o['previousVersion'];
  if (typeof version !== 'string' || typeof previousVersion !== 'string') {
    throw new DataError(
      'HANDOVER_RESULT_INVALID',
      "the installer's result file has no version or previousVersion",
    );
  }
  const reason = o['reason'];
  if (reason !== undefined && typeof reason !== 'string') {
    throw new DataError(
      'HANDOVER_RESULT_INVALID',
      "the installer's result file has a reason that is not a string",
    );
  }
  return reason === undefined || reason === ''
    ? { outcome, version, previousVersion }
    : { outcome, version, previousVersion, reason };
}

/** The result of the last hand-over, or undefined when there is none (yet: the script may still run). */
export async function readHandoverResult(stateDir: string): Promise<HandoverResult | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(handoverResultPath(stateDir));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InstallError(
      'HANDOVER_RESULT_UNREADABLE',
      `cannot read the installer's result file: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  return parseHandoverResult(bytes);
}
