import type { Targets } from '@tufjs/models';
import { parseCustomMetadata } from '../core/custom-metadata.js';
import type { ArchiveMeta, PatchMeta } from '../core/custom-metadata.js';
import { compareVersions } from '../core/version.js';

/** One release of one app as the signed targets list it. */
export interface Release {
  readonly app: string;
  readonly version: string;
  /** Target path of the archive, e.g. `myapp-1.2.0.tar.gz`. */
  readonly archive: string;
  readonly archiveLength: number;
  readonly archiveSha256: string;
  readonly meta: ArchiveMeta;
  readonly patch?: {
    readonly name: string;
    readonly length: number;
    readonly sha256: string;
    readonly meta: PatchMeta;
  };
}

/** Every notsotuf release in a targets role, sorted by app then version (oldest first). */
export function listReleases(targets: Targets): Release[] {
  const archives: Release[] = [];
  const patches = new Map<string, NonNullable<Release['patch']>>();
  for (const [name, t] of Object.entries(targets.targets)) {
    const meta = parseCustomMetadata(name, t.custom);
    const sha256 = t.hashes.sha256 ?? '';
    if (meta?.kind === 'archive') {
      archives.push({
        app: meta.app,
        version: meta.version,
        archive: name,
        archiveLength: t.length,
        archiveSha256: sha256,
        meta,
      });
    } else if (meta?.kind === 'patch') {
      patches.set(`${meta.app}\u0000${meta.version}`, { name, length: t.length, sha256, meta });
    }
  }
  return archives
    .map((r) => {
      const patch = patches.get(`${r.app}\u0000${r.version}`);
      return patch === undefined ? r : { ...r, patch };
    })
    .sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : compareVersions(a.version, b.version)));
}

/** The newest release of `app`, if any. */
export function latestRelease(targets: Targets, app: string): Release | undefined {
  const of = listReleases(targets).filter((r) => r.app === app);
  return of[of.length - 1];
}

/** Where a target's bytes live in a consistent-snapshot repository: `targets/<sha256>.<name>`. */
export function targetFileRel(name: string, sha256: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0
    ? `targets/${sha256}.${name}`
    : `targets/${name.slice(0, slash + 1)}${sha256}.${name.slice(slash + 1)}`;
}
