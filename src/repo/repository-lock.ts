import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { RepoConfig } from './config.js';

/**
 * One publisher command at a time changes a repository: two `release add` at once would both
 * build version N+1 of targets, and one release would be lost. The lock is a file in the
 * publisher's cache folder (never in the repository, so it is never published), made with O_EXCL.
 */
export async function withRepositoryLock<T>(config: RepoConfig, fn: () => Promise<T>): Promise<T> {
  await mkdir(config.cache, { recursive: true });
  const path = join(config.cache, 'lock');
  let fh;
  try {
    fh = await open(path, 'wx');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new UsageError(
        'REPOSITORY_LOCKED',
        `another notsotuf command is changing this repository (lock file ${path}); wait for it, or delete the lock file if no notsotuf command is running`,
        { cause },
      );
    }
    throw cause;
  }
  try {
    await fh.writeFile(`${process.pid}\n`);
    await fh.close();
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
