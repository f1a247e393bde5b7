import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { RepoConfig } from './config.js';

/**
 * One publisher command at a time changes a repository: two `release add` at once would both
 * build version N+1 of targets, and one release would be lost. The lock is a file in the
 * publisher's cache folder (never in the repository, so it is never published), made with O_EXCL
 * and holding the owner's pid. A lock whose process no longer exists (killed, machine rebooted) is
 * taken over, and the temp files such a process left are removed.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tryLock(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx');
    try {
      await fh.writeFile(`${process.pid}\n`);
    } finally {
      await fh.close();
    }
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw cause;
  }
}

/** Removes what an interrupted command left: `.tmp-*` files in the repository, `work-*` in the cache. */
async function removeLeftovers(config: RepoConfig): Promise<void> {
  for (const dir of [join(config.repository, 'metadata'), join(config.repository, 'targets')]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) if (n.startsWith('.tmp-')) await rm(join(dir, n), { force: true });
  }
  const cached = await readdir(config.cache).catch(() => [] as string[]);
  for (const n of cached)
    if (n.startsWith('work-')) await rm(join(config.cache, n), { recursive: true, force: true });
}

export async function withRepositoryLock<T>(config: RepoConfig, fn: () => Promise<T>): Promise<T> {
  await mkdir(config.cache, { recursive: true });
  const path = join(config.cache, 'lock');
  let locked = await tryLock(path);
  if (!locked) {
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(owner) && owner > 0 && !isAlive(owner)) {
      await rm(path, { force: true });
      locked = await tryLock(path);
      if (locked) await removeLeftovers(config);
    }
  }
  if (!locked) {
    throw new UsageError(
      'REPOSITORY_LOCKED',
      `another notsotuf command is changing this repository (lock file ${path}); wait for it to finish, or delete the lock file if no notsotuf command is running`,
    );
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
