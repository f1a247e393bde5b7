import { InstallError } from '../errors.js';
import { acquirePidLock } from '../io/pid-lock.js';
import { stateLayout } from './state-layout.js';

/**
 * One update at a time per state folder: two instances of the same app (a user who opened it twice)
 * must not download into the same `.partial` files or unpack into the same staging folder. The lock
 * is src/io's pid lock at `<state>/update.lock`; one whose owner is gone is taken over.
 */
export async function acquireUpdateLock(stateDir: string): Promise<() => Promise<void>> {
  const lock = await acquirePidLock(
    stateLayout(stateDir).updateLockFile,
    (pid) =>
      new InstallError(
        'UPDATE_IN_PROGRESS',
        `another process (pid ${pid}) is updating this app right now: wait for it to finish, then check again`,
      ),
  );
  return () => lock.release();
}
