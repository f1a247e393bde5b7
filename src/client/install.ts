/**
 * Starts the installer that runs after the app exits (see handover.ts for the contract).
 *
 * `startHandover` checks the plan, writes the per-OS script into <stateDir>/handover/ (temp file,
 * then rename), clears what an earlier hand-over left (a stale confirm file would let a broken
 * version pass its health check), and starts the script detached, so it outlives the app. On
 * Windows the script is started hidden, and through an elevated launcher only when the install
 * folder's parent or the folder itself is not writable.
 */
import { spawn as nodeSpawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { InstallError, UsageError, messageOf } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import type { HandoverPlan } from './handover.js';
import { confirmFilePath, handoverFiles, handoverResultPath } from './state-layout.js';
import type { HandoverFiles } from './state-layout.js';
import { posixScript } from './install.posix.js';
import { windowsLaunch, windowsRunner, windowsScript } from './install.windows.js';
import { makeDirs } from '../io/make-dirs.js';

/** Longest waits we accept: a day. Longer is a mistake in the caller's units (ms for s). */
const MAX_TIMEOUT_SECONDS = 24 * 60 * 60;

/**
 * What is wrong with a hand-over timeout, or undefined: whole seconds up to a day; the installer
 * must wait at least 1 s for the app to exit (0 would give up before the app could quit). The
 * Client checks its options with it too, so a bad value is refused before anything is downloaded.
 */
export function handoverTimeoutProblem(
  key: 'healthTimeoutSeconds' | 'waitTimeoutSeconds',
  value: number,
): string | undefined {
  const min = key === 'waitTimeoutSeconds' ? 1 : 0;
  if (!Number.isSafeInteger(value) || value < min || value > MAX_TIMEOUT_SECONDS)
    return `${key} must be a whole number of seconds from ${min} to ${MAX_TIMEOUT_SECONDS}`;
  return undefined;
}

/** The edges startHandover touches, replaceable in tests (defaults are the real ones). */
export interface HandoverSeams {
  /** 'win32' selects the batch script; anything else the POSIX one. */
  readonly platform?: NodeJS.Platform;
  readonly spawn?: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  /** POSIX: the shell that runs the script (default /bin/sh). */
  readonly shell?: string;
  /** Windows: whether the installer can rename the install folder without elevation. */
  readonly canWriteInstallDir?: (plan: HandoverPlan) => Promise<boolean>;
  /** Windows: cmd.exe (default: %ComSpec%). */
  readonly comspec?: string;
  /** Whether a process exists (default: process.kill(pid, 0)). */
  readonly isRunning?: (pid: number) => boolean;
}

/** Checks a plan before anything is written. UsageError names the field to fix. */
export function checkHandoverPlan(plan: HandoverPlan): void {
  const bad = (what: string): never => {
    throw new UsageError('INVALID_HANDOVER_PLAN', `invalid hand-over plan: ${what}`);
  };
  for (const key of ['installDir', 'stagingDir', 'backupDir', 'stateDir'] as const) {
    const p = plan[key];
    if (typeof p !== 'string' || p === '' || !isAbsolute(p)) bad(`${key} must be an absolute path`);
    if (p.includes('\0') || p.includes('\n') || p.includes('\r'))
      bad(`${key} must not contain NUL or line breaks`);
  }
  const install = resolve(plan.installDir);
  for (const key of ['stagingDir', 'backupDir'] as const) {
    const p = resolve(plan[key]);
    if (dirname(p) !== dirname(install)) {
      bad(`${key} must be a sibling of installDir (same folder, same volume) so the swap is a rename`);
    }
    if (p === install) bad(`${key} must differ from installDir`);
  }
  if (resolve(plan.stagingDir) === resolve(plan.backupDir)) bad('stagingDir and backupDir must differ');
  const state = resolve(plan.stateDir);
  if (state === install || state.startsWith(install + '/') || state.startsWith(install + '\\')) {
    bad('stateDir must not be inside installDir (the swap would move it away)');
  }
  if (!Number.isSafeInteger(plan.pid) || plan.pid <= 0) bad('pid must be a positive integer');
  for (const key of ['healthTimeoutSeconds', 'waitTimeoutSeconds'] as const) {
    const problem = handoverTimeoutProblem(key, plan[key]);
    if (problem !== undefined) bad(problem);
  }
  // Both end up in file names (confirm file, failed folder) and in the script.
  confirmFilePath(plan.stateDir, plan.version);
  confirmFilePath(plan.stateDir, plan.previousVersion);
  if (!/^[A-Za-z0-9_-]+$/.test(plan.appName)) bad('appName must be letters, digits, "_" and "-"');
  if (plan.restart !== undefined) {
    const { command, args, cwd } = plan.restart;
    if (typeof command !== 'string' || command === '') bad('restart.command must be a non-empty string');
    const words: readonly unknown[] = [command, ...args];
    if (words.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      bad('restart.args must be strings without NUL bytes');
    }
    if (cwd !== undefined && !isAbsolute(cwd)) bad('restart.cwd must be an absolute path');
  }
}

/** Writes the per-OS script into <stateDir>/handover/ and starts it detached (hidden on Windows). */
export async function startHandover(
  plan: HandoverPlan,
  seams: HandoverSeams = {},
): Promise<{ script: string; log: string }> {
  checkHandoverPlan(plan);
  const platform = seams.platform ?? process.platform;
  const windows = platform === 'win32';
  const files = handoverFiles(plan.stateDir, windows ? 'windows' : 'posix');
  await refuseIfRunning(files, seams.isRunning ?? isRunning);
  try {
    await makeDirs(files.dir);
    // Left over from an earlier hand-over: a stale confirm file or result would be taken for this one's.
    await rm(confirmFilePath(plan.stateDir, plan.version), { force: true });
    await rm(handoverResultPath(plan.stateDir), { force: true });
    await writeFile(files.log, '');
    if (windows) {
      // cmd.exe reads CRLF batch files; a LF-only file can misparse labels and blocks.
      await writeFileAtomic(files.runner, windowsRunner().replaceAll('\n', '\r\n'), { mode: 0o700 });
      await writeFileAtomic(files.script, windowsScript().replaceAll('\n', '\r\n'), { mode: 0o700 });
    } else {
      await writeFileAtomic(files.script, posixScript(plan, files), { mode: 0o700 });
    }
  } catch (cause) {
    throw new InstallError(
      'HANDOVER_WRITE_FAILED',
      `cannot write the installer into ${files.dir}: ${messageOf(cause)}. Check that the state folder is writable.`,
      { cause },
    );
  }
  const spawn = seams.spawn ?? nodeSpawn;
  if (windows) {
    const writable = await (seams.canWriteInstallDir ?? canRenameInstallDir)(plan);
    const launch = windowsLaunch(plan, files, { elevate: !writable, comspec: seams.comspec });
    const child = spawn(launch.command, launch.args, launch.options);
    await started(child, files);
    // The elevated launcher's pid is PowerShell's, which exits at once: no guard then.
    if (!launch.elevated) await recordPid(files, child.pid);
  } else {
    const log = await open(files.log, 'a');
    try {
      const child = spawn(seams.shell ?? '/bin/sh', [files.script], {
        detached: true,
        // not the app's cwd, which may be the install folder about to be renamed
        cwd: files.dir,
        stdio: ['ignore', log.fd, log.fd],
      });
      await started(child, files);
      await recordPid(files, child.pid);
    } finally {
      await log.close();
    }
  }
  return { script: files.script, log: files.log };
}

/** Whether a process exists: signal 0 checks without sending (EPERM: it exists, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One installer at a time: a second one would find the folders already swapped and overwrite the
 * first one's result. The pid file is removed by the script when it writes its result; one left by a
 * script that died (a reboot) names a process that no longer runs.
 */
async function refuseIfRunning(files: HandoverFiles, running: (pid: number) => boolean): Promise<void> {
  let text: string;
  try {
    const handle = await open(files.pidFile, 'r');
    try {
      const buffer = Buffer.alloc(32); // a pid and a line end; anything longer is not ours
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await handle.close();
    }
  } catch {
    return;
  }
  const pid = Number(text.trim());
  if (/^\d{1,10}\s*$/.test(text) && Number.isSafeInteger(pid) && pid > 0 && running(pid)) {
    throw new InstallError(
      'HANDOVER_RUNNING',
      `an installer is already running (pid ${pid}, see ${files.log}): wait for it to write its result ` +
        '(it gives up by itself if the app does not exit in time), then try again',
    );
  }
}

async function recordPid(files: HandoverFiles, pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  try {
    await writeFileAtomic(files.pidFile, `${pid}\n`, { mode: 0o700 });
  } catch {
    // Only the guard against a second installer is lost; the one started runs as it should.
  }
}

/** Resolves once the OS has started the child (rejects with InstallError if it could not), then lets it go. */
function started(child: ChildProcess, files: HandoverFiles): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    child.once('error', (cause) =>
      reject(
        new InstallError(
          'HANDOVER_START_FAILED',
          `cannot start the installer ${files.script}: ${cause.message}`,
          {
            cause,
          },
        ),
      ),
    );
    child.once('spawn', () => {
      child.unref();
      resolvePromise();
    });
  });
}

/**
 * Whether the installer can rename the install folder as this user: it needs to create entries in the
 * parent (for the backup and failed folders) and to write inside the folder. A probe file is the one
 * test that also sees ACLs and read-only volumes (access() only reads mode bits on Windows).
 */
export async function canRenameInstallDir(plan: HandoverPlan): Promise<boolean> {
  for (const dir of [dirname(plan.installDir), plan.installDir]) {
    const probe = join(dir, `.notsotuf-write-probe-${process.pid}`);
    try {
      await access(dir, constants.W_OK);
      await writeFile(probe, '');
      await unlink(probe);
    } catch {
      return false;
    }
  }
  return true;
}
