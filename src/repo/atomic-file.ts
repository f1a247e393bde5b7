import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temp name beside `path` (same folder, so the final rename is atomic). Starts with `.tmp-`. */
export function tempNameFor(path: string): string {
  return join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}-${basename(path)}`);
}

/** Writes `data` to a temp file beside `path`, fsyncs it, then renames it over `path`. */
export async function atomicWriteFile(
  path: string,
  data: Buffer,
  options: { mode?: number } = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
