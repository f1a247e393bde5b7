/**
 * The few private parts of tuf-js's Updater (5.0.1, pinned in package.json) that we reach into.
 * tuf-js gets these wrong for us, so we patch them on each instance and check their shape at run
 * time, so that an upgrade that changes them fails loudly instead of silently losing a guarantee:
 *
 * - `persistMetadata` writes in place (a crash leaves a torn trusted file) and re-encodes the
 *   bytes as UTF-8 text: we write the exact bytes to a temp file and rename it.
 * - `loadLocalMetadata` joins the role name into a path without encoding it (a delegated role
 *   named `../x` would be read from outside the metadata folder): we encode it the same way as
 *   the file is written, so every role is one flat file name.
 * - `trustedSet.referenceTime` is `new Date()` at construction: we set it from an injected clock.
 * - `trustedSet.targets` is the verified top-level targets role: we list its targets.
 * - `loadTargets` returns a delegated role already in memory without checking it against the
 *   delegator at hand: a role name that two delegators delegate with different keys, loaded
 *   through one, was then trusted through the other (tuf-conformance's
 *   test_cached_role_is_verified_against_current_delegator). We verify it again against the
 *   current delegator's keys and threshold (spec 5.6.3) before it is used.
 * - tuf-js does not do spec 5.3.11 (after a root update that rotates the timestamp or snapshot
 *   keys, delete the trusted timestamp and snapshot): without it a client stays stuck after a
 *   fast-forward attack when only the snapshot key is rotated. We do it after each root update.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Metadata, Root, Targets } from '@tufjs/models';
import type { Updater } from 'tuf-js';
import { writeFileAtomicSync } from '../../io/atomic-write.js';

interface TrustedSetInternals {
  referenceTime: Date;
  [method: string]: unknown;
  getRole(name: string): Metadata<Targets> | undefined;
  readonly targets: Metadata<Targets> | undefined;
  readonly root: Metadata<Root>;
}

interface UpdaterInternals {
  trustedSet: TrustedSetInternals;
  persistMetadata: (name: string, bytes: Uint8Array) => void;
  loadLocalMetadata: (name: string) => Buffer;
  loadTargets: (role: string, parentRole: string) => Promise<Metadata<Targets> | undefined>;
}

function internals(updater: Updater): UpdaterInternals {
  const u = updater as unknown as Partial<UpdaterInternals>;
  const ts = u.trustedSet as Partial<TrustedSetInternals> | undefined;
  if (
    typeof u.persistMetadata !== 'function' ||
    typeof u.loadLocalMetadata !== 'function' ||
    typeof u.loadTargets !== 'function' ||
    ts === undefined ||
    typeof ts.getRole !== 'function' ||
    !(ts.referenceTime instanceof Date)
  ) {
    throw new Error(
      'internal: tuf-js Updater no longer has the shape notsotuf expects (persistMetadata, ' +
        'loadLocalMetadata, loadTargets, trustedSet.getRole, trustedSet.referenceTime); check ' +
        'the pinned tuf-js version',
    );
  }
  return u as UpdaterInternals;
}

/** File name of a role's metadata in the metadata folder: URL-encoded, so always one flat name. */
export function metadataFileName(role: string): string {
  return `${encodeURIComponent(role)}.json`;
}

/** The store's verification steps; their failures are recorded because tuf-js flattens some of them. */
const VERIFY_STEPS = ['updateRoot', 'updateTimestamp', 'updateSnapshot', 'updateDelegatedTargets'] as const;

/**
 * Patches one Updater instance: atomic exact-bytes persistence, encoded local reads, the clock, and
 * recording of verification failures into `recorder.last`.
 */
export function patchUpdater(
  updater: Updater,
  metadataDir: string,
  now: Date | undefined,
  recorder: { last: unknown },
): void {
  const u = internals(updater);
  const store = u.trustedSet;
  let resetOnlineRoles = false;
  for (const step of VERIFY_STEPS) {
    const original = store[step];
    if (typeof original !== 'function')
      throw new Error(
        `internal: tuf-js TrustedMetadataStore has no ${step}; check the pinned tuf-js version`,
      );
    store[step] = (...args: unknown[]): unknown => {
      recorder.last = undefined;
      const rootBefore = step === 'updateRoot' ? store.root : undefined;
      let result: unknown;
      try {
        result = (original as (...a: unknown[]) => unknown).apply(store, args);
      } catch (error) {
        recorder.last = error;
        throw error;
      }
      // Spec 5.3.11: a root that changes the timestamp or snapshot keys invalidates both files,
      // so that versions fast-forwarded by a thief of those keys no longer block real ones. They
      // are deleted once the new root is on disk (below), so a failed write loses nothing.
      if (rootBefore !== undefined && onlineKeysRotated(rootBefore, store.root)) resetOnlineRoles = true;
      return result;
    };
  }
  u.persistMetadata = (name, bytes) => {
    try {
      writeFileAtomicSync(join(metadataDir, metadataFileName(name)), bytes, { mode: 0o644 });
    } catch (error) {
      // tuf-js flattens this into a string for snapshot and targets: keep the real cause.
      recorder.last = error;
      throw error;
    }
    if (name === 'root' && resetOnlineRoles) {
      resetOnlineRoles = false;
      for (const role of ['timestamp', 'snapshot'])
        rmSync(join(metadataDir, metadataFileName(role)), { force: true });
    }
  };
  u.loadLocalMetadata = (name) => readFileSync(join(metadataDir, metadataFileName(name)));
  const loadTargets = u.loadTargets.bind(updater);
  u.loadTargets = async (role, parentRole) => {
    const loaded = role === 'targets' ? undefined : store.getRole(role);
    const delegator = loaded === undefined ? undefined : store.getRole(parentRole);
    if (loaded !== undefined && delegator !== undefined) {
      // Spec 5.6.3 for the delegation at hand, not only the one it was first loaded through.
      try {
        delegator.verifyDelegate(role, loaded);
      } catch (error) {
        recorder.last = error;
        throw error;
      }
    }
    return loadTargets(role, parentRole);
  };
  if (now !== undefined) store.referenceTime = now;
}

/** The verified top-level targets metadata, or undefined before a successful refresh. */
export function trustedTargets(updater: Updater): Metadata<Targets> | undefined {
  return internals(updater).trustedSet.targets;
}

/** Whether the trusted root asks for consistent snapshots (hash-prefixed target names). */
export function consistentSnapshot(updater: Updater): boolean {
  return internals(updater).trustedSet.root.signed.consistentSnapshot;
}

/** Whether the timestamp or snapshot role has other keys or another threshold in `next`. */
export function onlineKeysRotated(previous: Metadata<Root>, next: Metadata<Root>): boolean {
  return ['timestamp', 'snapshot'].some((role) => roleKeys(previous, role) !== roleKeys(next, role));
}

function roleKeys(root: Metadata<Root>, role: string): string {
  const r = root.signed.roles[role];
  if (r === undefined) return '';
  const keys = [...r.keyIDs].sort().map((id) => JSON.stringify(root.signed.keys[id]?.toJSON() ?? null));
  return JSON.stringify([r.threshold, [...r.keyIDs].sort(), keys]);
}
