import { randomInt } from 'node:crypto';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InstallError, UsageError } from '../errors.js';
import { CLIENT_LIMITS } from '../core/limits.js';
import { isValidVersion } from '../core/version.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { pathExists } from '../io/path-exists.js';
import type { StateLayout } from './state-layout.js';
import { LAYOUT_NAMES, STATE_MARKER } from './state-layout.js';
import { makeDirs } from '../io/make-dirs.js';

/** What the client handed to the installer and waits to hear about on a later start. */
export interface PendingHandover {
  readonly version: string;
  readonly previousVersion: string;
  readonly stagingDir: string;
  readonly backupDir: string;
  /** When the installer was started (ms since the epoch), and how long it may take at most (ms). */
  readonly startedAt?: number;
  readonly deadlineMs?: number;
  /**
   * Device and inode of the staged folder (a rename keeps them): when the install folder has them,
   * the installer has put the new version in place, and only then may `confirm` confirm it.
   */
  readonly stagingIdentity?: string;
  /** The signed tar digest of the new version, recorded as installed once the installer keeps it. */
  readonly tar?: { readonly sha256: string; readonly length: number };
}

export interface ClientState {
  /** Versions that were rolled back on this install: never offered again. */
  readonly skipped: readonly string[];
  /** Versions whose patch chain failed here: updated to by the full archive. */
  readonly noPatchesTo: readonly string[];
  readonly pending?: PendingHandover;
}

export const EMPTY_STATE: ClientState = { skipped: [], noPatchesTo: [] };

async function readBounded(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > CLIENT_LIMITS.maxStateFileBytes) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function versions(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && isValidVersion(x)) : [];
}

function digest(v: unknown): v is { sha256: string; length: number } {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Record<string, unknown>;
  return (
    typeof d.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(d.sha256) &&
    typeof d.length === 'number' &&
    Number.isSafeInteger(d.length)
  );
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/**
 * Reads state.json. The file is ours, but a crash, a full disk or a curious user may have damaged
 * it: anything unreadable counts as the empty state (which only costs a possible re-offer of a
 * rolled-back version, never a wrong install: every install is still verified).
 */
export async function readState(layout: StateLayout): Promise<ClientState> {
  const r = await readOwnJson(layout.stateFile);
  if (r === undefined) return EMPTY_STATE;
  const p = r.pending as Record<string, unknown> | undefined;
  const pending =
    typeof p === 'object' &&
    p !== null &&
    str(p.version) &&
    str(p.previousVersion) &&
    str(p.stagingDir) &&
    str(p.backupDir)
      ? {
          version: p.version,
          previousVersion: p.previousVersion,
          stagingDir: p.stagingDir,
          backupDir: p.backupDir,
          ...(typeof p.startedAt === 'number' ? { startedAt: p.startedAt } : {}),
          ...(typeof p.deadlineMs === 'number' ? { deadlineMs: p.deadlineMs } : {}),
          ...(str(p.stagingIdentity) ? { stagingIdentity: p.stagingIdentity } : {}),
          ...(digest(p.tar) ? { tar: { sha256: p.tar.sha256, length: p.tar.length } } : {}),
        }
      : undefined;
  return {
    skipped: versions(r.skipped),
    noPatchesTo: versions(r.noPatchesTo),
    ...(pending ? { pending } : {}),
  };
}

export async function writeState(layout: StateLayout, state: ClientState): Promise<void> {
  await makeDirs(layout.root);
  await writeFileAtomic(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Reads the install's rollout id, creating it on first use. */
export async function installRolloutId(layout: StateLayout): Promise<number> {
  const text = await readBounded(layout.installIdFile);
  if (text !== undefined) {
    const n = Number(text.trim());
    if (Number.isFinite(n) && n >= 0 && n < 100) return n;
  }
  // 0.0001 resolution is plenty for percentages; randomInt is uniform.
  const id = randomInt(0, 1_000_000) / 10_000;
  try {
    await makeDirs(layout.root);
    await writeFileAtomic(layout.installIdFile, `${id}\n`);
  } catch (cause) {
    throw new InstallError(
      'STATE_NOT_WRITABLE',
      `cannot write the client's state folder ${layout.root}: make it writable by the app's user`,
      { cause },
    );
  }
  return id;
}

export async function readTextIfSmall(path: string): Promise<string | undefined> {
  return readBounded(path);
}

/**
 * A small JSON object the client wrote (state.json, installed.json): undefined when the file is
 * missing, too big, not JSON or not an object. The fields are the caller's to check.
 */
export async function readOwnJson(path: string): Promise<Record<string, unknown> | undefined> {
  const text = await readBounded(path);
  if (text === undefined) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined;
}

/** Names that only a notsotuf state folder holds (the marker, or what older clients left). */
const OWN_NAMES = [STATE_MARKER, 'state.json', 'install-id', 'handover', join('metadata', 'root.json')];

/**
 * Makes sure the state folder is this client's own before anything in it is cleaned: cleanup
 * removes `work/`, `downloads/` and `tars/*`, which in a folder shared by mistake (the home folder,
 * %APPDATA% itself; `downloads` is `Downloads` on a case-insensitive disk) are the user's files. A
 * new or empty folder is claimed with a marker file; one with other files and no sign of an
 * earlier notsotuf client is refused.
 */
export async function claimStateDir(layout: StateLayout): Promise<void> {
  await makeDirs(layout.root);
  if (await pathExists(layout.markerFile)) return;
  const names = await readdir(layout.root);
  // Empty, or only names this layout uses (e.g. a cached tar put there before the first check).
  const ours =
    names.every((n) => LAYOUT_NAMES.has(n)) ||
    (await Promise.all(OWN_NAMES.map((n) => pathExists(join(layout.root, n))))).some(Boolean);
  if (!ours)
    throw new UsageError(
      'STATE_DIR_NOT_OURS',
      `the state folder ${layout.root} already holds other files (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}): give the client a folder of its own (e.g. a folder named for the app inside the user's app data folder); it cleans what it puts there`,
    );
  await writeFileAtomic(
    layout.markerFile,
    'notsotuf client state folder: only the app updater writes here\n',
  );
}
