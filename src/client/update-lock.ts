import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InstallError } from '../errors.js';

/**
 * One update at a time per state folder: two instances of the same app (a user who opened it twice)
 * must not download into the same `.partial` files or unpack into the same staging folder. The lock
 * is a file holding the owner's pid, created exclusively; a lock whose owner is gone is taken over.
 */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireUpdateLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'update.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(owner) && owner > 0 && alive(owner)) {
      throw new InstallError(
        'UPDATE_IN_PROGRESS',
        `another process (pid ${owner}) is updating this app right now: wait for it to finish, then check again`,
      );
    }
    // Its owner is gone (crashed, killed): take it over.
    await rm(path, { force: true });
  }
  throw new InstallError('UPDATE_IN_PROGRESS', `cannot take the update lock ${path}: try again`);
}
