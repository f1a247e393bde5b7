import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InstallError } from '../errors.js';

/**
 * One update at a time per state folder: two instances of the same app (a user who opened it twice)
 * must not download into the same `.partial` files or unpack into the same staging folder. The lock
 * is a file holding the owner's pid, created exclusively; a lock whose owner is gone is taken over.
 *
 * The lock appears with its pid already in it (written to a temp file, then hard-linked to the lock
 * name, which fails when it exists), so no one sees an empty lock. One without a readable pid (an
 * older writer, a crash) counts as held while it is young, as stale once it is old.
 */

/** How long a lock without a readable pid counts as held. */
const UNREADABLE_LOCK_MS = 30_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock's owner: its pid, 'unknown' when the file holds none yet is young, undefined when stale or gone. */
async function owner(path: string): Promise<{ pid: number | 'unknown'; text: string } | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (/^\d{1,10}\s*$/.test(text) && Number.isSafeInteger(pid) && pid > 0)
    return alive(pid) ? { pid, text } : undefined;
  return Math.abs(Date.now() - mtimeMs) < UNREADABLE_LOCK_MS ? { pid: 'unknown', text } : undefined;
}

function inProgress(pid: number | 'unknown'): InstallError {
  return new InstallError(
    'UPDATE_IN_PROGRESS',
    `another process (pid ${pid}) is updating this app right now: wait for it to finish, then check again`,
  );
}

/** Creates `path` with the content of `source`: a hard link, or an exclusive create where the file system has no links. */
async function linkOrCreate(source: string, path: string): Promise<void> {
  try {
    await link(source, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || !(code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS')) throw error;
    await writeFile(path, await readFile(source), { flag: 'wx' });
  }
}

export async function acquireUpdateLock(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, 'update.lock');
  const mine = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(mine, `${process.pid}\n`, { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await linkOrCreate(mine, path);
        return () => rm(path, { force: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const seen = await readFile(path, 'utf8').catch(() => undefined);
      const held = await owner(path);
      if (held !== undefined) throw inProgress(held.pid);
      if (seen === undefined) continue;
      // Its owner is gone (crashed, killed): move it aside and check that what moved is the lock
      // judged stale, not one another process took over in the meantime (then put that one back).
      const aside = `${mine}.stale`;
      try {
        await rename(path, aside);
      } catch {
        continue;
      }
      const moved = await readFile(aside, 'utf8').catch(() => seen);
      if (moved !== seen) {
        await link(aside, path).catch(() => undefined);
        await rm(aside, { force: true });
        throw inProgress(Number(moved.trim()) || 'unknown');
      }
      await rm(aside, { force: true });
    }
    throw new InstallError('UPDATE_IN_PROGRESS', `cannot take the update lock ${path}: try again`);
  } finally {
    await rm(mine, { force: true });
  }
}
