import type { Key } from '@tufjs/models';
import { UsageError } from '../errors.js';
import type { RepoConfig } from './config.js';
import { ROLE_NAMES } from './roles.js';
import type { RoleName } from './roles.js';
import { listKeys, readPublicKey } from './key-store.js';
import type { PassphraseSource } from './key-store.js';
import { openKeyring } from './keyring.js';
import { buildUpdate, nextRoot } from './metadata-update.js';
import { loadForEdit } from './repository-files.js';
import { withRepositoryLock } from './repository-lock.js';
import { commitWrites } from './repository-writer.js';
import type { StepHook } from './repository-writer.js';
import { rolesOf } from './root-builder.js';
import type { RoleSpec } from './root-builder.js';

/**
 * Keys and roles over time. Every change here is a new root version (N+1.root.json), signed by the
 * keys of the old root role and of the new one, so clients that trust root N follow the chain
 * (TUF 5.3.4); snapshot and timestamp are re-signed, and targets too when its keys changed.
 */
export interface RoleChangeOptions {
  readonly passphrase?: PassphraseSource;
  readonly now?: Date;
  /** Key folder to sign with (default: the config's). */
  readonly keyDir?: string;
  readonly onStep?: StepHook;
}

export interface RoleChangeResult {
  readonly rootVersion: number;
  readonly roles: Readonly<Record<RoleName, RoleSpec>>;
}

type RootEdit = (
  keys: Record<string, Key>,
  roles: Record<RoleName, { keyIDs: string[]; threshold: number }>,
) => void;

function changeRoot(
  config: RepoConfig,
  edit: RootEdit,
  options: RoleChangeOptions,
): Promise<RoleChangeResult> {
  return withRepositoryLock(config, () => changeRootLocked(config, edit, options));
}

async function changeRootLocked(
  config: RepoConfig,
  edit: RootEdit,
  options: RoleChangeOptions,
): Promise<RoleChangeResult> {
  const now = options.now ?? new Date();
  const state = await loadForEdit(config.repository, now);
  const keys: Record<string, Key> = { ...state.root.signed.keys };
  const roles = Object.fromEntries(
    Object.entries(rolesOf(state.root.signed)).map(([r, s]) => [
      r,
      { keyIDs: [...s.keyIDs], threshold: s.threshold },
    ]),
  ) as Record<RoleName, { keyIDs: string[]; threshold: number }>;
  edit(keys, roles);
  for (const r of ROLE_NAMES) {
    const spec = roles[r];
    if (spec.keyIDs.length === 0)
      throw new UsageError(
        'ROLE_WITHOUT_KEYS',
        `${r} would have no keys left: add another key to ${r} first`,
      );
    if (!Number.isInteger(spec.threshold) || spec.threshold < 1 || spec.threshold > spec.keyIDs.length) {
      throw new UsageError(
        'INVALID_THRESHOLD',
        `threshold ${spec.threshold} for ${r} must be a whole number from 1 to its number of keys (${spec.keyIDs.length})`,
      );
    }
  }
  const root = nextRoot(state.root.signed, now, config.expiry, { keys, roles });
  const keyring = openKeyring(options.keyDir ?? config.keys, options.passphrase);
  const update = await buildUpdate({ state, now, expiry: config.expiry, keyring, root });
  await commitWrites(config.repository, update.writes, options.onStep);
  return { rootVersion: root.version, roles: rolesOf(root) };
}

/**
 * Finds a key by name in the key folder, or by a key id (prefix of at least 8 hex digits) in the
 * root. `purpose` says what the key is for: a key to revoke or replace must be one the root names
 * (the message lists those); a new key must exist in the key folder.
 */
async function resolveKey(
  config: RepoConfig,
  nameOrId: string,
  rootKeys: Readonly<Record<string, Key>>,
  keyDir: string,
  purpose: 'revoke' | 'replace' | 'new',
  roles?: Readonly<Record<string, { keyIDs: readonly string[] }>>,
): Promise<Key> {
  if (/^[0-9a-f]{8,64}$/.test(nameOrId)) {
    const matches = Object.values(rootKeys).filter((k) => k.keyID.startsWith(nameOrId));
    if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  }
  try {
    return (await readPublicKey(keyDir, nameOrId)).key;
  } catch (cause) {
    if (purpose === 'new')
      throw new UsageError(
        'MISSING_KEY',
        `no key "${nameOrId}" in ${keyDir}: run "notsotuf keys new ${nameOrId}" first (or copy its .pub.json there)`,
        { cause },
      );
    throw new UsageError(
      'MISSING_KEY',
      `no key "${nameOrId}" to ${purpose}: it is neither a key in ${keyDir} nor a key id in the root. ` +
        `The root's keys: ${await describeRootKeys(keyDir, rootKeys, roles)}. Give one of these names or key ids (see notsotuf keys list)`,
      { cause },
    );
  }
}

/** "targets (0123456789ab, signs targets), ..." for the keys the root names. */
async function describeRootKeys(
  keyDir: string,
  rootKeys: Readonly<Record<string, Key>>,
  roles: Readonly<Record<string, { keyIDs: readonly string[] }>> | undefined,
): Promise<string> {
  const stored = await listKeys(keyDir).catch(() => []);
  const parts = Object.keys(rootKeys).map((id) => {
    const name = stored.find((k) => k.key.keyID === id)?.name;
    const signs = Object.entries(roles ?? {})
      .filter(([, r]) => r.keyIDs.includes(id))
      .map(([role]) => role);
    const what = `${id.slice(0, 12)}${signs.length > 0 ? `, signs ${signs.join(' and ')}` : ''}`;
    return name === undefined ? what : `${name} (${what})`;
  });
  return parts.length === 0 ? 'none' : parts.join('; ');
}

/** `keys add ROLE NAME`: lets key NAME sign ROLE (optionally setting ROLE's threshold). */
export async function addKeyToRole(
  config: RepoConfig,
  role: RoleName,
  keyName: string,
  options: RoleChangeOptions & { threshold?: number } = {},
): Promise<RoleChangeResult> {
  const keyDir = options.keyDir ?? config.keys;
  const key = (
    await readPublicKey(keyDir, keyName).catch((cause: unknown) => {
      throw new UsageError(
        'MISSING_KEY',
        `no key "${keyName}" in ${keyDir}: run "notsotuf keys new ${keyName}" first`,
        { cause },
      );
    })
  ).key;
  return changeRoot(
    config,
    (keys, roles) => {
      if (roles[role].keyIDs.includes(key.keyID)) {
        throw new UsageError('KEY_ALREADY_IN_ROLE', `key "${keyName}" already signs ${role}`);
      }
      keys[key.keyID] = key;
      roles[role].keyIDs.push(key.keyID);
      if (options.threshold !== undefined) roles[role].threshold = options.threshold;
    },
    options,
  );
}

/**
 * `keys replace OLD NEW`: NEW takes OLD's place in every role OLD signs (or only `role`). For root
 * this is a root rotation: N+1.root.json is signed by OLD (the old root) and NEW (the new one).
 */
export async function replaceKey(
  config: RepoConfig,
  oldName: string,
  newName: string,
  options: RoleChangeOptions & { role?: RoleName } = {},
): Promise<RoleChangeResult> {
  const keyDir = options.keyDir ?? config.keys;
  const state = await loadForEdit(config.repository, options.now ?? new Date());
  const oldKey = await resolveKey(
    config,
    oldName,
    state.root.signed.keys,
    keyDir,
    'replace',
    state.root.signed.roles,
  );
  const newKey = await resolveKey(config, newName, {}, keyDir, 'new');
  if (oldKey.keyID === newKey.keyID)
    throw new UsageError('SAME_KEY', `"${oldName}" and "${newName}" are the same key`);
  return changeRoot(
    config,
    (keys, roles) => {
      let changed = 0;
      for (const r of ROLE_NAMES) {
        if (options.role !== undefined && options.role !== r) continue;
        const ids = roles[r].keyIDs;
        const at = ids.indexOf(oldKey.keyID);
        if (at < 0) continue;
        if (ids.includes(newKey.keyID)) ids.splice(at, 1);
        else ids[at] = newKey.keyID;
        changed++;
      }
      if (changed === 0) {
        throw new UsageError(
          'KEY_NOT_IN_ROLE',
          `key "${oldName}" signs no ${options.role ?? 'role'}: nothing to replace`,
        );
      }
      keys[newKey.keyID] = newKey;
    },
    options,
  );
}

/** `keys revoke NAME`: removes a key from every role (or only `role`). Thresholds must still be met. */
export async function revokeKey(
  config: RepoConfig,
  nameOrId: string,
  options: RoleChangeOptions & { role?: RoleName; threshold?: number } = {},
): Promise<RoleChangeResult> {
  const keyDir = options.keyDir ?? config.keys;
  const state = await loadForEdit(config.repository, options.now ?? new Date());
  const key = await resolveKey(
    config,
    nameOrId,
    state.root.signed.keys,
    keyDir,
    'revoke',
    state.root.signed.roles,
  );
  return changeRoot(
    config,
    (_keys, roles) => {
      let changed = 0;
      for (const r of ROLE_NAMES) {
        if (options.role !== undefined && options.role !== r) continue;
        const at = roles[r].keyIDs.indexOf(key.keyID);
        if (at < 0) continue;
        roles[r].keyIDs.splice(at, 1);
        if (options.threshold !== undefined) roles[r].threshold = options.threshold;
        changed++;
      }
      if (changed === 0)
        throw new UsageError(
          'KEY_NOT_IN_ROLE',
          `key "${nameOrId}" signs no ${options.role ?? 'role'}: nothing to revoke`,
        );
    },
    options,
  );
}

/** `keys threshold ROLE N`. */
export async function setThreshold(
  config: RepoConfig,
  role: RoleName,
  threshold: number,
  options: RoleChangeOptions = {},
): Promise<RoleChangeResult> {
  return changeRoot(
    config,
    (_keys, roles) => {
      roles[role].threshold = threshold;
    },
    options,
  );
}
