import { UsageError } from '../errors.js';
import type { ArchiveMeta, NotsotufMeta, PatchMeta } from './custom-metadata.js';
import { parseCustomMetadata } from './custom-metadata.js';
import { CLIENT_LIMITS } from './limits.js';
import { parseTargetName } from './target-name.js';
import type { Channel } from './version.js';
import { channelAccepts, compareVersions, parseVersion } from './version.js';

/**
 * Update planning: which release an install moves to, and whether by a chain of patches or by the
 * full archive. Pure: it takes the trusted target list (already verified by the TUF layer) and the
 * install's facts as values, and returns a value. Every rule of the issue lives here:
 *
 * - only releases of this app, strictly above the current version (never a downgrade);
 * - channels by PEP 440 level (`channelAccepts`): stable by default, rc/beta/alpha/dev opt in;
 * - rollout: a release with rollout P is offered when the per-install id (in [0, 100)) is below P;
 * - releases the install rolled back (skipped) are never offered again;
 * - a `required` release stops the chain there: the install goes to the lowest offered required
 *   release above it, and the next check goes on from it; a required release whose rollout does
 *   not include this install yet is a ceiling (nothing above it is offered until it is);
 * - patches when an unbroken chain of signed patches leads from the current tar to the target's
 *   signed tar, a source tar is available, and the chain's total does not exceed the full archive;
 *   anything else (a missing link, a digest that does not chain, an unknown format) means full.
 */

/** One trusted target as the TUF layer hands it over (structurally the TUF layer's TrustedTarget). */
export interface PlanTargetInput {
  readonly path: string;
  readonly length: number;
  readonly hashes: Readonly<Record<string, string>>;
  readonly custom: unknown;
}

/** A target the plan uses, with its signed notsotuf metadata already parsed. */
export interface PlannedTarget<M extends NotsotufMeta = NotsotufMeta> {
  readonly target: PlanTargetInput;
  readonly meta: M;
}

export interface PlanInput {
  readonly app: string;
  readonly currentVersion: string;
  readonly channel: Channel;
  /** Stable per-install random number in [0, 100). */
  readonly rolloutId: number;
  /** Versions this install rolled back from; never offered again. */
  readonly skippedVersions?: readonly string[];
  /** Whether the uncompressed tar of the current version is at hand (cached or rebuilt). */
  readonly sourceTarAvailable: boolean;
  /** Patch formats this client can apply. */
  readonly patchFormats: readonly string[];
  /** Versions whose patches failed before on this install: go straight to the full archive. */
  readonly noPatchesTo?: readonly string[];
}

export type UpdatePlan =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'patches';
      readonly version: string;
      /** In the order they are applied, from the current version's tar to the new one. */
      readonly chain: readonly PlannedTarget<PatchMeta>[];
      /** The full archive, the fallback when a patch fails. */
      readonly archive: PlannedTarget<ArchiveMeta>;
      readonly downloadBytes: number;
      readonly release: ArchiveMeta;
    }
  | {
      readonly kind: 'full';
      readonly version: string;
      readonly archive: PlannedTarget<ArchiveMeta>;
      readonly downloadBytes: number;
      readonly release: ArchiveMeta;
    };

/** Parses the targets that belong to `app`: its archives and patches, keyed by version. */
export function appReleases(
  targets: readonly PlanTargetInput[],
  app: string,
): {
  archives: Map<string, PlannedTarget<ArchiveMeta>>;
  patches: Map<string, PlannedTarget<PatchMeta>>;
} {
  const archives = new Map<string, PlannedTarget<ArchiveMeta>>();
  const patches = new Map<string, PlannedTarget<PatchMeta>>();
  let seen = 0;
  for (const target of targets) {
    const name = parseTargetName(target.path);
    if (name === undefined || name.app !== app) continue;
    if (++seen > CLIENT_LIMITS.maxTargets) break;
    const meta = parseCustomMetadata(target.path, target.custom);
    // A target whose signed metadata disagrees with its name is not used: the name is what the
    // publisher meant, the metadata what it signed; both must say the same app, version and kind.
    if (meta === undefined || meta.app !== app || meta.version !== name.version || meta.kind !== name.kind) {
      continue;
    }
    if (meta.kind === 'archive') archives.set(meta.version, { target, meta });
    else patches.set(meta.version, { target, meta });
  }
  return { archives, patches };
}

/** The sha256 of a target from its signed hashes, or undefined. */
export function targetSha256(target: PlanTargetInput): string | undefined {
  const h = target.hashes.sha256;
  return typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? h : undefined;
}

/** The release this install should move to, or undefined when none is offered. */
export function chooseRelease(
  archives: ReadonlyMap<string, PlannedTarget<ArchiveMeta>>,
  input: Pick<PlanInput, 'currentVersion' | 'channel' | 'rolloutId' | 'skippedVersions'>,
): PlannedTarget<ArchiveMeta> | undefined {
  const current = parseVersion(input.currentVersion).text;
  const skipped = new Set((input.skippedVersions ?? []).map((v) => parseVersion(v).text));
  const candidates = [...archives.values()]
    .filter(({ meta }) => compareVersions(meta.version, current) > 0)
    .filter(({ meta }) => channelAccepts(input.channel, parseVersion(meta.version).channel))
    .filter(({ meta }) => !skipped.has(meta.version))
    .sort((a, b) => compareVersions(a.meta.version, b.meta.version));
  // A required release this install is not in the rollout of yet is a ceiling: going past it would
  // skip what it is required for (a migration, a key change). The install waits below it.
  const gate = candidates.find(({ meta }) => meta.required && !(input.rolloutId < meta.rollout));
  const offered = candidates
    .filter(({ meta }) => input.rolloutId < meta.rollout)
    .filter(({ meta }) => gate === undefined || compareVersions(meta.version, gate.meta.version) < 0);
  const required = offered.find(({ meta }) => meta.required);
  return required ?? offered[offered.length - 1];
}

/**
 * The release a first install puts in place: the newest the channel accepts and the install's
 * rollout includes. Unlike an update, a `required` release is no stop: a new install has nothing to
 * migrate, so it starts at the newest.
 */
export function chooseFirstInstall(
  archives: ReadonlyMap<string, PlannedTarget<ArchiveMeta>>,
  input: Pick<PlanInput, 'channel' | 'rolloutId'>,
): PlannedTarget<ArchiveMeta> | undefined {
  return [...archives.values()]
    .filter(({ meta }) => channelAccepts(input.channel, parseVersion(meta.version).channel))
    .filter(({ meta }) => input.rolloutId < meta.rollout)
    .sort((a, b) => compareVersions(a.meta.version, b.meta.version))
    .at(-1);
}

/** The release whose signed tar is `tar` (the installed folder's digest), if any. */
export function releaseWithTar(
  archives: ReadonlyMap<string, PlannedTarget<ArchiveMeta>>,
  tar: { readonly sha256: string; readonly length: number },
): PlannedTarget<ArchiveMeta> | undefined {
  return [...archives.values()].find(
    ({ meta }) => meta.tar.sha256 === tar.sha256 && meta.tar.length === tar.length,
  );
}

/**
 * The patches from `current` to `release`, in apply order, or undefined when the chain is broken:
 * a missing patch, a step that does not start from the previous step's signed result, a format this
 * client cannot apply, or a chain longer than the limit.
 */
export function findPatchChain(
  patches: ReadonlyMap<string, PlannedTarget<PatchMeta>>,
  currentTar: { readonly version: string; readonly sha256: string; readonly length: number },
  release: ArchiveMeta,
  patchFormats: readonly string[],
): PlannedTarget<PatchMeta>[] | undefined {
  const chain: PlannedTarget<PatchMeta>[] = [];
  let want = { version: release.version, sha256: release.tar.sha256, length: release.tar.length };
  while (want.version !== currentTar.version) {
    if (chain.length >= CLIENT_LIMITS.maxPatchChainSteps) return undefined;
    const step = patches.get(want.version);
    if (step === undefined) return undefined;
    const { meta } = step;
    if (!patchFormats.includes(meta.format)) return undefined;
    if (meta.result.sha256 !== want.sha256 || meta.result.length !== want.length) return undefined;
    // Walking down must strictly descend, or a hostile (but signed) cycle would loop.
    if (compareVersions(meta.source.version, meta.version) >= 0) return undefined;
    if (compareVersions(meta.source.version, currentTar.version) < 0) return undefined;
    chain.unshift(step);
    want = { version: meta.source.version, sha256: meta.source.sha256, length: meta.source.length };
  }
  if (want.sha256 !== currentTar.sha256 || want.length !== currentTar.length) return undefined;
  return chain;
}

/** The app names of the archives among `targets`, sorted (for messages). */
export function appNamesOf(targets: readonly PlanTargetInput[]): string[] {
  const names = new Set<string>();
  for (const t of targets) {
    const name = parseTargetName(t.path);
    if (name?.kind === 'archive') names.add(name.app);
    if (names.size >= 20) break;
  }
  return [...names].sort();
}

/**
 * A repository with no release at all of the configured app: a misspelt app name (or the wrong
 * repository). Saying "up to date" would leave the app never updating, so it is an error that names
 * what the repository holds.
 */
export function appNotInRepository(targets: readonly PlanTargetInput[], app: string): UsageError {
  const names = appNamesOf(targets);
  const holds = names.length === 0 ? 'it holds no releases at all' : `it holds: ${names.join(', ')}`;
  return new UsageError(
    'APP_NOT_IN_REPOSITORY',
    `the repository has no release of "${app}" (${holds}): check the app name (appName / --app-name) and the repository URL`,
  );
}

/**
 * Decides the update for one install. Throws UsageError for a bad current version or rollout id,
 * and for an app the repository holds no release of (APP_NOT_IN_REPOSITORY).
 */
export function planUpdate(targets: readonly PlanTargetInput[], input: PlanInput): UpdatePlan {
  if (!(Number.isFinite(input.rolloutId) && input.rolloutId >= 0 && input.rolloutId < 100)) {
    throw new UsageError('INVALID_ROLLOUT_ID', `rollout id ${input.rolloutId} must be a number in [0, 100)`);
  }
  const current = parseVersion(input.currentVersion).text;
  const { archives, patches } = appReleases(targets, input.app);
  if (archives.size === 0) throw appNotInRepository(targets, input.app);
  const chosen = chooseRelease(archives, input);
  if (chosen === undefined) return { kind: 'none' };
  const release = chosen.meta;
  const full = {
    kind: 'full',
    version: release.version,
    archive: chosen,
    downloadBytes: chosen.target.length,
    release,
  } as const;

  const currentRelease = archives.get(current);
  const noPatches = new Set((input.noPatchesTo ?? []).map((v) => parseVersion(v).text));
  if (!input.sourceTarAvailable || currentRelease === undefined || noPatches.has(release.version)) {
    return full;
  }
  const chain = findPatchChain(
    patches,
    { version: current, ...currentRelease.meta.tar },
    release,
    input.patchFormats,
  );
  if (chain === undefined || chain.length === 0) return full;
  const patchBytes = chain.reduce((sum, step) => sum + step.target.length, 0);
  if (patchBytes > chosen.target.length) return full;
  return {
    kind: 'patches',
    version: release.version,
    chain,
    archive: chosen,
    downloadBytes: patchBytes,
    release,
  };
}
