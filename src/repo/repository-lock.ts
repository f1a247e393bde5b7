import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { acquirePidLock } from '../io/pid-lock.js';
import { isTempName } from '../io/temp-name.js';
import type { RepoConfig } from './config.js';
import { makeDirs } from '../io/make-dirs.js';

/**
 * One publisher command at a time changes a repository: two `release add` at once would both
 * build version N+1 of targets, and one release would be lost. The lock (src/io/pid-lock.ts) is a
 * file in the publisher's cache folder (never in the repository, so it is never published) holding
 * the owner's pid. A lock whose process no longer exists (killed, machine rebooted) is taken over,
 * and the temp files such a process left are removed.
 */

/** Removes what an interrupted command left: temp files in the repository, `work-*` in the cache. */
async function removeLeftovers(config: RepoConfig): Promise<void> {
  for (const dir of [join(config.repository, 'metadata'), join(config.repository, 'targets')]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) if (isTempName(n)) await rm(join(dir, n), { force: true });
  }
  const cached = await readdir(config.cache).catch(() => [] as string[]);
  for (const n of cached)
    if (n.startsWith('work-')) await rm(join(config.cache, n), { recursive: true, force: true });
}

export async function withRepositoryLock<T>(config: RepoConfig, fn: () => Promise<T>): Promise<T> {
  await makeDirs(config.cache);
  const path = join(config.cache, 'lock');
  const lock = await acquirePidLock(
    path,
    () =>
      new UsageError(
        'REPOSITORY_LOCKED',
        `another notsotuf command is changing this repository (lock file ${path}); wait for it to finish, or delete the lock file if no notsotuf command is running`,
      ),
  );
  try {
    if (lock.tookOverStale) await removeLeftovers(config);
    return await fn();
  } finally {
    await lock.release();
  }
}
