import { UsageError } from '../errors.js';
import type { RepoConfig } from './config.js';
import type { RoleName } from './roles.js';
import type { PassphraseSource } from './key-store.js';
import { keysForAny, openKeyring, signersFor } from './keyring.js';
import { makeTimestamp, serializeMetadata } from './metadata-update.js';
import { loadForEdit } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';
import { commitWrites } from './repository-writer.js';
import type { StagedWrite, StepHook } from './repository-writer.js';

export interface SignRoleResult {
  readonly role: RoleName;
  readonly version: number;
  /** Key names that added a signature now. */
  readonly added: readonly string[];
  readonly signatures: number;
}

/**
 * `notsotuf sign ROLE`: adds the signatures of the keys at hand (that have not signed yet) to the
 * current version of ROLE, without changing what it says: how a threshold above 1 is met by
 * several people on several machines, one `sign` each. Snapshot metadata lists targets by version
 * only, so signing targets needs nothing else; signing snapshot changes its bytes, so a new
 * timestamp is made.
 */
export function signRole(
  config: RepoConfig,
  role: RoleName,
  options: { passphrase?: PassphraseSource; now?: Date; keyDir?: string; onStep?: StepHook } = {},
): Promise<SignRoleResult> {
  return withRepositoryLock(config, () => signRoleLocked(config, role, options));
}

async function signRoleLocked(
  config: RepoConfig,
  role: RoleName,
  options: { passphrase?: PassphraseSource; now?: Date; keyDir?: string; onStep?: StepHook },
): Promise<SignRoleResult> {
  const now = options.now ?? new Date();
  const state = await loadForEdit(config.repository, now);
  const keyring = openKeyring(options.keyDir ?? config.keys, options.passphrase);
  const md =
    role === 'root'
      ? state.root
      : role === 'targets'
        ? state.targets
        : role === 'snapshot'
          ? state.snapshot
          : state.timestamp;
  // A new root must also satisfy the previous root's root role (TUF 5.3.4): its keys may sign too.
  const previousRoot = state.roots[state.roots.length - 2];
  const roots =
    role === 'root' && previousRoot !== undefined
      ? [previousRoot.signed, state.root.signed]
      : [state.root.signed];
  const candidates = await keysForAny(keyring, roots, role);
  if (candidates.length === 0) {
    throw new UsageError(
      'MISSING_KEY',
      `no ${role} key in ${keyring.keyDir}: put the .key and .pub.json of a ${role} key there, or pass --keys DIR`,
    );
  }
  const added: string[] = [];
  for (const k of candidates) {
    if (md.signatures[k.key.keyID] !== undefined) continue;
    md.sign(await keyring.signer(k), true);
    added.push(k.name);
  }
  if (added.length === 0) {
    throw new UsageError(
      'ALREADY_SIGNED',
      `${role} version ${md.signed.version} is already signed by every ${role} key in ${keyring.keyDir}: the next signature must come from another key`,
    );
  }
  const bytes = serializeMetadata(md);
  const v = md.signed.version;
  const writes: StagedWrite[] = [];
  if (role === 'root')
    writes.push({ rel: `metadata/${v}.root.json`, bytes }, { rel: 'metadata/root.json', bytes });
  else if (role === 'targets') writes.push({ rel: `metadata/${v}.targets.json`, bytes });
  else if (role === 'timestamp') writes.push({ rel: 'metadata/timestamp.json', bytes });
  else {
    writes.push({ rel: `metadata/${v}.snapshot.json`, bytes });
    const ts = makeTimestamp(state.timestamp.signed, v, bytes, now, config.expiry);
    for (const s of await signersFor(keyring, [state.root.signed], 'timestamp')) ts.sign(s, true);
    writes.push({ rel: 'metadata/timestamp.json', bytes: serializeMetadata(ts) });
  }
  await commitWrites(config.repository, writes, options.onStep);
  return { role, version: v, added, signatures: Object.keys(md.signatures).length };
}
