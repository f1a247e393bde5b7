import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, UsageError, messageOf } from '../errors.js';
import { inspectMetadata } from './inspect-metadata.js';
import type { Inspection, MetadataState } from './inspect-metadata.js';

/** Largest metadata file read from a repository (targets.json grows with releases). */
export const MAX_METADATA_BYTES = 32 * 1024 * 1024;

/** Reads every metadata file (`*.json`, not temp files) of a repository folder, bounded. */
export async function readMetadataFiles(repoDir: string): Promise<Map<string, Buffer>> {
  const dir = join(repoDir, 'metadata');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (cause) {
    throw new UsageError(
      'NOT_A_REPOSITORY',
      `${repoDir} is not a notsotuf repository (no metadata/ folder): run "notsotuf init" first or check --config`,
      { cause },
    );
  }
  const files = new Map<string, Buffer>();
  for (const name of names.sort()) {
    if (!/^(\d+\.(root|targets|snapshot)|root|timestamp)\.json$/.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path);
    if (!info.isFile()) continue;
    if (info.size > MAX_METADATA_BYTES) {
      throw new DataError(
        'METADATA_TOO_LARGE',
        `${path} is ${info.size} bytes, more than the ${MAX_METADATA_BYTES} allowed`,
      );
    }
    files.set(name, await readFile(path));
  }
  return files;
}

export async function inspectRepositoryMetadata(repoDir: string, now: Date): Promise<Inspection> {
  return inspectMetadata(await readMetadataFiles(repoDir), now);
}

/**
 * The repository's metadata for a command that changes it. Refuses corrupt or hand-edited
 * metadata (any signature that does not verify, wrong hashes, missing files); tolerates missing
 * signatures and expiry, which `sign` and `refresh` exist to fix.
 */
export async function loadForEdit(repoDir: string, now: Date): Promise<MetadataState> {
  let inspection: Inspection;
  try {
    inspection = await inspectRepositoryMetadata(repoDir, now);
  } catch (error) {
    if (error instanceof DataError || error instanceof UsageError) throw error;
    throw new DataError('BAD_REPOSITORY', `cannot read ${repoDir}: ${messageOf(error)}`, { cause: error });
  }
  const corrupt = inspection.problems.filter((p) => p.kind === 'corrupt');
  if (corrupt.length > 0 || inspection.state === undefined) {
    throw new DataError(
      'REPOSITORY_CORRUPT',
      `the repository metadata does not verify, nothing was changed:\n  ${corrupt.map((p) => p.message).join('\n  ')}\nRestore the files from a backup or a published copy; run "notsotuf status" for details.`,
    );
  }
  return inspection.state;
}
