/**
 * A small tmpfs mounted by a test (as root), to fill a disk for real. Where mounting is refused
 * (not root, no CAP_SYS_ADMIN, not Linux) `mountTmpfs` says why, and the test skips with that
 * reason. Always unmount in `finally`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Tmpfs =
  | { readonly ok: true; readonly dir: string; unmount(): Promise<void> }
  | { readonly ok: false; readonly reason: string };

/** Mounts a fresh tmpfs of `sizeKiB` KiB on a new temp folder. */
export async function mountTmpfs(sizeKiB: number, options: { readOnly?: boolean } = {}): Promise<Tmpfs> {
  if (process.platform !== 'linux') return { ok: false, reason: 'tmpfs mounts need Linux' };
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-tmpfs-'));
  const opts = [`size=${sizeKiB}k`, 'mode=0755', ...(options.readOnly === true ? ['ro'] : [])].join(',');
  try {
    await run('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return {
      ok: false,
      reason: `cannot mount a tmpfs here (${stderr || String(error)}): run as root to test a full disk`,
    };
  }
  return {
    ok: true,
    dir,
    unmount: async () => {
      try {
        await run('umount', [dir]);
      } catch {
        // Something still holds a file open in it: detach it now, the kernel frees it later.
        await run('umount', ['-l', dir]);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Remounts a mounted tmpfs read-only or read-write (the whole volume, whoever the user is), or
 * with a new size (to free space on a full disk).
 */
export async function remount(dir: string, change: 'ro' | 'rw' | { sizeKiB: number }): Promise<void> {
  const option = typeof change === 'string' ? change : `size=${change.sizeKiB}k`;
  await run('mount', ['-o', `remount,${option}`, dir]);
}
