import type { RepoConfig } from './config.js';
import { ROLE_NAMES } from './expiry.js';
import type { RoleName } from './expiry.js';
import type { PassphraseSource } from './key-store.js';
import { openKeyring, signersFor } from './keyring.js';
import { buildUpdate, makeTimestamp, nextRoot, nextTargets, serializeMetadata } from './metadata-update.js';
import { loadForEdit } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';
import { commitWrites } from './repository-writer.js';
import type { StepHook } from './repository-writer.js';

const DAY_MS = 86_400_000;

export interface RefreshOptions {
  readonly passphrase?: PassphraseSource;
  readonly now?: Date;
  readonly keyDir?: string;
  /**
   * Re-sign a role when less than this fraction of its configured lifetime is left (default 0.5:
   * a 1-day timestamp is re-signed once 12 hours are left, so an hourly cron keeps it fresh).
   */
  readonly fraction?: number;
  /** Re-sign these roles whatever their expiry. */
  readonly force?: readonly RoleName[];
  readonly onStep?: StepHook;
}

export interface RefreshResult {
  /** Roles that got a new version, in signing order; empty when nothing was due. */
  readonly refreshed: readonly RoleName[];
}

/**
 * `notsotuf refresh` (for cron/CI): re-signs the roles that expire soon with the keys at hand. A
 * role that is due but has no key here fails the whole refresh (nothing is written), so the job
 * exits non-zero and someone looks.
 */
export function refreshRepository(config: RepoConfig, options: RefreshOptions = {}): Promise<RefreshResult> {
  return withRepositoryLock(config, () => refreshRepositoryLocked(config, options));
}

async function refreshRepositoryLocked(config: RepoConfig, options: RefreshOptions): Promise<RefreshResult> {
  const now = options.now ?? new Date();
  const fraction = options.fraction ?? 0.5;
  const state = await loadForEdit(config.repository, now);
  const current = {
    root: state.root,
    targets: state.targets,
    snapshot: state.snapshot,
    timestamp: state.timestamp,
  };
  const due = new Set<RoleName>(options.force ?? []);
  for (const role of ROLE_NAMES) {
    const left = new Date(current[role].signed.expires).getTime() - now.getTime();
    if (left < config.expiry[role] * DAY_MS * fraction) due.add(role);
  }
  if (due.size === 0) return { refreshed: [] };
  const keyring = openKeyring(options.keyDir ?? config.keys, options.passphrase);
  if (due.has('root') || due.has('targets') || due.has('snapshot')) {
    const update = await buildUpdate({
      state,
      now,
      expiry: config.expiry,
      keyring,
      ...(due.has('root') ? { root: nextRoot(state.root.signed, now, config.expiry) } : {}),
      ...(due.has('targets') ? { targets: nextTargets(state.targets.signed, now, config.expiry) } : {}),
    });
    await commitWrites(config.repository, update.writes, options.onStep);
    const refreshed = ROLE_NAMES.filter((r) => due.has(r) || r === 'snapshot' || r === 'timestamp');
    return { refreshed };
  }
  const ts = makeTimestamp(
    state.timestamp.signed,
    state.snapshot.signed.version,
    state.snapshotBytes,
    now,
    config.expiry,
  );
  for (const s of await signersFor(keyring, [state.root.signed], 'timestamp')) ts.sign(s, true);
  await commitWrites(
    config.repository,
    [{ rel: 'metadata/timestamp.json', bytes: serializeMetadata(ts) }],
    options.onStep,
  );
  return { refreshed: ['timestamp'] };
}
