import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { StateLayout } from './state-layout.js';
import { cachedTarPath, siblingPrefixes } from './state-layout.js';
import { parseVersion } from '../core/version.js';

function isNormalisedVersion(text: string): boolean {
  try {
    return parseVersion(text).text === text;
  } catch {
    return false;
  }
}

/** Leftover siblings of the install folder made by an update: staging, backup, failed copies. */
async function leftoverSiblings(installDir: string): Promise<string[]> {
  const parent = dirname(installDir);
  const base = basename(installDir);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  // Only names an update makes: the prefix and a normalised version. `<base>.failed-notes` is
  // the user's own file, not ours to delete.
  const ours = (n: string): boolean =>
    Object.values(siblingPrefixes(base)).some(
      (prefix) => n.startsWith(prefix) && isNormalisedVersion(n.slice(prefix.length)),
    );
  return names.filter(ours).map((n) => join(parent, n));
}

/**
 * With no hand-over pending: keep only what the next update needs, the tar of the installed version;
 * remove work files, other versions' tars, and staging/backup leftovers beside the install folder.
 * `keepVersions` are the versions whose tars stay (the installed one, and the one the app says it
 * is when that differs); undefined (the installed version is not known yet) keeps every tar.
 * Downloads (whole or `.partial`) are removed only once an update has settled (`afterUpdate`):
 * before that they are what an interrupted download resumes from, even across restarts.
 */
export async function cleanSettled(
  layout: StateLayout,
  installDir: string,
  keepVersions: readonly string[] | undefined,
  options: { afterUpdate: boolean; keepStaging?: boolean },
): Promise<void> {
  if (options.afterUpdate) await rm(layout.downloadsDir, { recursive: true, force: true });
  await rm(layout.workDir, { recursive: true, force: true });
  const keep = new Set((keepVersions ?? []).map((v) => basename(cachedTarPath(layout.tarsDir, v))));
  let tars: string[] = [];
  try {
    tars = await readdir(layout.tarsDir);
  } catch {
    // no cache yet
  }
  // A staged update's tar (kept with its staging folder) is what its next update patches from.
  for (const name of tars)
    if (!keep.has(name) && keepVersions !== undefined && options.keepStaging !== true)
      await rm(join(layout.tarsDir, name), { recursive: true, force: true });
  // Best effort: a read-only or not-writable install location (a system folder, a volume remounted
  // read-only) must not make every check fail; the leftovers go once the folder is writable again.
  // A staged update that a running instance may still hand over is not a leftover.
  const staging = siblingPrefixes(basename(installDir)).staging;
  for (const dir of await leftoverSiblings(installDir)) {
    if (options.keepStaging === true && basename(dir).startsWith(staging)) continue;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
