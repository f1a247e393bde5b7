import type { RepoConfig } from './config.js';
import { ROLE_NAMES } from './roles.js';
import type { RoleName } from './roles.js';
import type { PassphraseSource } from './key-store.js';
import { openKeyring, signersFor } from './keyring.js';
import type { Keyring } from './keyring.js';
import { buildUpdate, makeTimestamp, nextRoot, nextTargets, serializeMetadata } from './metadata-update.js';
import type { MetadataState } from './inspect-metadata.js';
import { loadForEdit } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';
import { commitWrites } from './repository-writer.js';
import type { StepHook } from './repository-writer.js';

const DAY_MS = 86_400_000;

/** Offline roles (root, targets) are due at most this many days before they expire. */
export const OFFLINE_REFRESH_DAYS = 30;

export interface RefreshOptions {
  readonly passphrase?: PassphraseSource;
  readonly now?: Date;
  readonly keyDir?: string;
  /**
   * Re-sign a role when less than this fraction of its configured lifetime is left (default 0.5:
   * a 1-day timestamp is re-signed once 12 hours are left, so an hourly cron keeps it fresh).
   * Root and targets, whose keys are usually offline, are due at most 30 days before expiry.
   */
  readonly fraction?: number;
  /** Re-sign these roles whatever their expiry. */
  readonly force?: readonly RoleName[];
  readonly onStep?: StepHook;
}

export interface RefreshResult {
  /** Roles that got a new version, in signing order; empty when nothing was due. */
  readonly refreshed: readonly RoleName[];
  /** Roles that were due (or needed) but have no key here: the caller must report a failure. */
  readonly missingKeys: readonly RoleName[];
}

/** Which roles are due for re-signing at `now`. */
export function dueRoles(
  state: MetadataState,
  expiryDays: Readonly<Record<RoleName, number>>,
  now: Date,
  fraction = 0.5,
): Set<RoleName> {
  const due = new Set<RoleName>();
  for (const role of ROLE_NAMES) {
    const left = new Date(state[role].signed.expires).getTime() - now.getTime();
    let window = expiryDays[role] * DAY_MS * fraction;
    if (role === 'root' || role === 'targets') window = Math.min(window, OFFLINE_REFRESH_DAYS * DAY_MS);
    if (left < window) due.add(role);
  }
  return due;
}

/** Whether a private key of `role` is at hand (listed only: nothing is decrypted here). */
async function hasKey(keyring: Keyring, state: MetadataState, role: RoleName): Promise<boolean> {
  return (await keyring.keysFor(state.root.signed, role)).length > 0;
}

/**
 * `notsotuf refresh` (for cron/CI): re-signs the roles that expire soon with the keys at hand.
 * What can be re-signed is (snapshot and timestamp keep clients working even while the offline
 * root key is away); a role that is due but has no key here is returned in `missingKeys`, so the
 * job exits non-zero and someone looks before clients see expired metadata.
 */
export function refreshRepository(config: RepoConfig, options: RefreshOptions = {}): Promise<RefreshResult> {
  return withRepositoryLock(config, () => refreshLocked(config, options));
}

async function refreshLocked(config: RepoConfig, options: RefreshOptions): Promise<RefreshResult> {
  const now = options.now ?? new Date();
  const state = await loadForEdit(config.repository, now);
  const due = dueRoles(state, config.expiry, now, options.fraction);
  for (const r of options.force ?? []) due.add(r);
  if (due.size === 0) return { refreshed: [], missingKeys: [] };
  const keyring = openKeyring(options.keyDir ?? config.keys, options.passphrase);
  const missingKeys: RoleName[] = [];
  // Only the keys of roles that will be signed are looked at (and later decrypted): an offline,
  // encrypted root key is never asked for while root is not due.
  const doRoot = due.has('root') && (await hasKey(keyring, state, 'root'));
  const doTargets = due.has('targets') && (await hasKey(keyring, state, 'targets'));
  if (due.has('root') && !doRoot) missingKeys.push('root');
  if (due.has('targets') && !doTargets) missingKeys.push('targets');
  const wantSnapshot = doRoot || doTargets || due.has('snapshot');
  const canSnapshot = wantSnapshot && (await hasKey(keyring, state, 'snapshot'));
  if (wantSnapshot && !canSnapshot) missingKeys.push('snapshot');
  const wantTimestamp = wantSnapshot || due.has('timestamp');
  const canTimestamp = wantTimestamp && (await hasKey(keyring, state, 'timestamp'));
  if (wantTimestamp && !canTimestamp) missingKeys.push('timestamp');
  if (!canTimestamp) return { refreshed: [], missingKeys };

  if (canSnapshot) {
    const update = await buildUpdate({
      state,
      now,
      expiry: config.expiry,
      keyring,
      ...(doRoot ? { root: nextRoot(state.root.signed, now, config.expiry) } : {}),
      ...(doTargets ? { targets: nextTargets(state.targets.signed, now, config.expiry) } : {}),
    });
    await commitWrites(config.repository, update.writes, options.onStep);
    const refreshed = ROLE_NAMES.filter((r) => (r === 'root' ? doRoot : r === 'targets' ? doTargets : true));
    return { refreshed, missingKeys };
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
  return { refreshed: ['timestamp'], missingKeys };
}
