import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/**
 * The one spelling of a temp file: `.tmp-<12 hex>-<final name>`, beside the final file (same
 * folder, so the final rename is atomic and stays on one volume). Hidden on POSIX, and every
 * clean-up, listing and server in the project recognises it through `isTempName`: the publisher's
 * lock removes such leftovers, `publish` and `serve` never copy or serve them, `prune` deletes them.
 *
 * Not temp names: a download's resumable `<name>.partial` (kept across restarts on purpose) and the
 * lock's own files (see pid-lock.ts).
 */
const TEMP_PREFIX = '.tmp-';

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-${basename(finalPath)}`);
}

/** Whether a file name (not a path) is a temp file's: a leftover when no writer is running. */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}
