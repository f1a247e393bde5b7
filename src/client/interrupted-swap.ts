import { lstat, rename } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstallError, messageOf } from '../errors.js';
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
