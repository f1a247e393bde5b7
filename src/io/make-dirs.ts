import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`: creates `path` and its missing parents, one level at a time.
 *
 * Node.js 20's `mkdir(path, { recursive: true })` never returns on a file system that answers
 * ENOENT to a mkdir whose parent exists (Linux's /proc and /sys do): it retries the parent and the
 * child forever. An updater that hangs is worse than one that fails, so every folder we create goes
 * through here. Errors are those of Node's recursive mkdir: EEXIST when `path` is a file, ENOTDIR
 * when a parent is, ENOENT under a link to nothing, the ENOENT or EACCES of the first level that
 * cannot be made.
 */
export async function makeDirs(path: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  let dir = resolve(path);
  while (!(await exists(dir))) {
    missing.push(dir);
    const parent = dirname(dir);
    if (parent === dir) break; // a root that is not there (a drive letter with no drive): mkdir says so
    dir = parent;
  }
  if (missing.length === 0) {
    if ((await stat(dir)).isDirectory()) return;
    throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${dir}'`), {
      code: 'EEXIST',
      path: dir,
      syscall: 'mkdir',
    });
  }
  for (const level of missing.reverse()) {
    try {
      await mkdir(level, mode === undefined ? undefined : { mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // Another process made it between our stat and mkdir (fine if a folder), or it is a link to
      // nothing, which stat reports as ENOENT (as Node's recursive mkdir does).
      if (!(await stat(level)).isDirectory()) throw error;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
