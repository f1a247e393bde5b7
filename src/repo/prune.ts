import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import type { Targets } from '@tufjs/models';
import { UsageError } from '../errors.js';
import { isTempName } from '../io/temp-name.js';
import type { RepoConfig } from './config.js';
import { listReleases, targetFileRel } from './release-list.js';
import { loadForEdit, readMetadataFiles } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';

export interface PruneOptions {
  /**
   * How many versions of targets and snapshot metadata to keep (default 3, at least 2): a client
   * that read the previous snapshot a moment ago must still find what it names.
   */
  readonly keep?: number;
  /** List what would be removed, remove nothing. */
  readonly dryRun?: boolean;
  readonly now?: Date;
}

export interface PruneResult {
  /** Repository paths removed (or that would be, with dryRun). */
  readonly removed: readonly string[];
  readonly bytes: number;
}

/**
 * `release prune`: removes what no recent metadata names, so a repository does not grow forever:
 * target files (withdrawn releases, files of targets versions older than the kept ones), targets
 * and snapshot metadata older than the last `keep` versions, temp files, and cached tars other than
 * the newest of each app (paths `cache:tars/...`). Every N.root.json is
 * kept (clients walk the whole root chain), and so are root.json and timestamp.json.
 */
export function pruneRepository(config: RepoConfig, options: PruneOptions = {}): Promise<PruneResult> {
  return withRepositoryLock(config, () => pruneLocked(config, options));
}

async function pruneLocked(config: RepoConfig, options: PruneOptions): Promise<PruneResult> {
  const keep = options.keep ?? 3;
  if (!Number.isInteger(keep) || keep < 2) {
    throw new UsageError(
      'INVALID_KEEP',
      `--keep ${keep} must be a whole number of at least 2: a client that read the previous snapshot a moment ago must still find the files it names (use --keep 2 to keep the least)`,
    );
  }
  const state = await loadForEdit(config.repository, options.now ?? new Date());
  const files = await readMetadataFiles(config.repository);
  const keepTargetsFrom = state.targets.signed.version - keep + 1;
  const keepSnapshotFrom = state.snapshot.signed.version - keep + 1;
  const keepRel = new Set<string>();
  // Target files named by every kept targets version (each was verified when it was written;
  // an unreadable one only means its files are kept too).
  for (const [name, bytes] of files) {
    const m = /^(\d+)\.targets\.json$/.exec(name);
    if (m === null || Number(m[1]) < keepTargetsFrom) continue;
    let targets: Targets;
    try {
      targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(bytes.toString('utf8')) as never).signed;
    } catch {
      throw new UsageError(
        'PRUNE_UNREADABLE',
        `metadata/${name} cannot be read: fix the repository before pruning`,
      );
    }
    for (const [path, t] of Object.entries(targets.targets)) {
      const sha = t.hashes.sha256;
      if (sha !== undefined) keepRel.add(targetFileRel(path, sha));
    }
  }
  const removed: string[] = [];
  let bytes = 0;
  const consider = async (rel: string, path: string): Promise<void> => {
    removed.push(rel);
    bytes += (await stat(path)).size;
    if (options.dryRun !== true) await rm(path, { force: true });
  };
  const metadataDir = join(config.repository, 'metadata');
  for (const name of (await readdir(metadataDir)).sort()) {
    const t = /^(\d+)\.targets\.json$/.exec(name);
    const s = /^(\d+)\.snapshot\.json$/.exec(name);
    const old =
      isTempName(name) ||
      (t !== null && Number(t[1]) < keepTargetsFrom) ||
      (s !== null && Number(s[1]) < keepSnapshotFrom);
    if (old) await consider(`metadata/${name}`, join(metadataDir, name));
  }
  const targetsDir = join(config.repository, 'targets');
  for (const name of (await readdir(targetsDir)).sort()) {
    const rel = `targets/${name}`;
    const info = await stat(join(targetsDir, name));
    if (info.isFile() && !keepRel.has(rel)) await consider(rel, join(targetsDir, name));
  }
  // The publisher's tar cache only needs the newest tar of each app (the next patch starts there).
  const latestTars = new Set(
    [...new Map(listReleases(state.targets.signed).map((r) => [r.app, r])).values()].map(
      (r) => `${r.app}-${r.version}.tar`,
    ),
  );
  const tarsDir = join(config.cache, 'tars');
  for (const name of (await readdir(tarsDir).catch(() => [] as string[])).sort()) {
    if (name.endsWith('.tar') && !latestTars.has(name))
      await consider(`cache:tars/${name}`, join(tarsDir, name));
  }
  return { removed, bytes };
}
