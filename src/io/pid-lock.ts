import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';

/**
 * A lock file holding its owner's pid: one process at a time (the client's update lock, the
 * publisher's repository lock). A lock whose owner is gone (crashed, killed, machine rebooted) is
 * taken over.
 *
 * The lock appears with its pid already in it (written to a file of our own, then hard-linked to
 * the lock name, which fails when it exists), so no one sees an empty lock. One without a readable
 * pid (an older writer, a crash) counts as held while it is young, as stale once it is old.
 *
 * Taking over never removes a lock by name: the stale lock is renamed aside and what moved is
 * compared with what was judged stale. Two processes that both judge a lock stale cannot both
 * take it over: only one rename moves the stale file, and a live lock moved by mistake is put back.
 */

/** How long a lock without a readable pid counts as held. */
const UNREADABLE_LOCK_MS = 30_000;

export interface PidLock {
  /** Removes the lock. */
  release(): Promise<void>;
  /** The lock was left by a process that is gone: its temp files may be cleaned now. */
  readonly tookOverStale: boolean;
}

/** The error to throw when another process holds the lock (`pid` is 'unknown' when unreadable). */
export type HeldError = (pid: number | 'unknown') => Error;

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
async function owner(path: string): Promise<{ pid: number | 'unknown' } | undefined> {
  let text: string;
  let mtimeMs: number;
  try {
    [text, mtimeMs] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtimeMs)]);
  } catch {
    return undefined;
  }
  const pid = Number(text.trim());
  if (/^\d{1,10}\s*$/.test(text) && Number.isSafeInteger(pid) && pid > 0)
    return alive(pid) ? { pid } : undefined;
  return Math.abs(Date.now() - mtimeMs) < UNREADABLE_LOCK_MS ? { pid: 'unknown' } : undefined;
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

/**
 * Takes the lock at `path` (its folder must exist), or throws `held(pid)` when a live process
 * holds it. The lock's helper files are `<path>.<pid>.<hex>` (and `.stale`) beside it.
 */
export async function acquirePidLock(path: string, held: HeldError): Promise<PidLock> {
  const mine = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(mine, `${process.pid}\n`, { flag: 'wx' });
  let tookOverStale = false;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await linkOrCreate(mine, path);
        return { release: () => rm(path, { force: true }), tookOverStale };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const seen = await readFile(path, 'utf8').catch(() => undefined);
      const current = await owner(path);
      if (current !== undefined) throw held(current.pid);
      if (seen === undefined) continue;
      // Its owner is gone: move it aside and check that what moved is the lock judged stale, not
      // one another process took over in the meantime (then put that one back).
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
        throw held(Number(moved.trim()) || 'unknown');
      }
      await rm(aside, { force: true });
      tookOverStale = true;
    }
    throw held('unknown');
  } finally {
    await rm(mine, { force: true });
  }
}
