import { lstat, readFile, rename, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstallError, messageOf } from '../errors.js';
import { handoverFiles } from './state-layout.js';
import { isRunning } from './install.js';
import type { PendingHandover } from './state.js';

/**
 * Recovery from an installer that died between its two renames (SIGKILL, power loss, a full
 * disk): the install folder is gone, the previous version sits whole in the backup folder, and the
 * installer wrote no result (or wrote that its own restore failed). Nothing can start the app from
 * a missing folder, so the next start of the client puts the backup back first, before anything
 * else runs and before leftovers are cleaned (which would otherwise delete the backup).
 *
 * A live installer does its second rename right after the first; `graceMs` gives it that moment,
 * so a client starting in the middle of a healthy swap does not race it.
 */
export async function restoreInterruptedSwap(
  installDir: string,
  pending: PendingHandover,
  options: { graceMs?: number } = {},
): Promise<boolean> {
  if ((await kindOf(installDir)) !== 'missing' || (await kindOf(pending.backupDir)) !== 'dir') return false;
  await sleep(options.graceMs ?? 1000);
  if ((await kindOf(installDir)) !== 'missing' || (await kindOf(pending.backupDir)) !== 'dir') return false;
  try {
    await rename(pending.backupDir, installDir);
  } catch (cause) {
    throw new InstallError(
      'RESTORE_FAILED',
      `the installer was interrupted during the swap and the previous version could not be moved back from ${pending.backupDir} to ${installDir} (${messageOf(cause)}): move it back by hand`,
      { cause },
    );
  }
  return true;
}

async function kindOf(path: string): Promise<'missing' | 'dir' | 'other'> {
  try {
    return (await lstat(path)).isDirectory() ? 'dir' : 'other';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

/**
 * Whether the installer of `pending` died without writing a result (SIGKILL, a crash): its pid
 * file, written for this hand-over (not older than it), names a process that no longer runs. Then
 * the next start settles at once instead of waiting for the hand-over's deadline. POSIX only: on
 * Windows the recorded process is a launcher that may exit before the script does.
 */
export async function installerDied(
  stateDir: string,
  pending: PendingHandover,
  options: { platform?: NodeJS.Platform; running?: (pid: number) => boolean } = {},
): Promise<boolean> {
  if ((options.platform ?? process.platform) === 'win32' || pending.startedAt === undefined) return false;
  const file = handoverFiles(stateDir, 'posix').pidFile;
  let text: string;
  try {
    const info = await stat(file);
    // A pid and a line end; and a file from an earlier hand-over (1 s of clock slack) is not this one's.
    if (!info.isFile() || info.size > 32 || info.mtimeMs + 1000 < pending.startedAt) return false;
    text = await readFile(file, 'latin1');
  } catch {
    return false;
  }
  const pid = Number(text.trim());
  if (!/^\d{1,10}\s*$/.test(text) || !Number.isSafeInteger(pid) || pid <= 0) return false;
  return !(options.running ?? isRunning)(pid);
}
