import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temp name beside `finalPath` (same folder, so the final rename is atomic). */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.${randomBytes(6).toString('hex')}.partial`);
}

/**
 * Runs `write(tempPath)` for each final path, then renames every temp file to its final name; on
 * any failure removes the temp files and leaves the final names untouched.
 */
export async function writeAtomically<T>(
  finalPaths: readonly string[],
  write: (tempPaths: string[]) => Promise<T>,
): Promise<T> {
  const temps = finalPaths.map(tempPathFor);
  try {
    const result = await write(temps);
    for (let i = 0; i < temps.length; i++) await rename(temps[i] as string, finalPaths[i] as string);
    return result;
  } catch (error) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw error;
  }
}
