import { readdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { MetaFile, Metadata, Snapshot, Targets } from '@tufjs/models';
import type { Key, Root, Timestamp } from '@tufjs/models';
import { UsageError } from '../errors.js';
import { checkAppName } from '../core/target-name.js';
import { pathExists } from '../io/path-exists.js';
import { CONFIG_FILE, writeConfig } from './config.js';
import type { RepoConfig } from './config.js';
import { checkExpiry, expiresAt } from './expiry.js';
import { ROLE_NAMES } from './roles.js';
import type { Expiry } from './expiry.js';
import type { RoleName } from './roles.js';
import { createKey, listKeys, loadSigner } from './key-store.js';
import type { PassphraseSource, StoredKey } from './key-store.js';
import { makeTimestamp, serializeMetadata } from './metadata-update.js';
import { commitWrites } from './repository-writer.js';
import type { StagedWrite } from './repository-writer.js';
import { buildRoot, SPEC_VERSION } from './root-builder.js';
import type { RoleSpec } from './root-builder.js';
import { makeDirs } from '../io/make-dirs.js';

export interface InitOptions {
  readonly app: string;
  /** Folders, relative to `dir` (defaults: repository, keys, .notsotuf-cache). */
  readonly repository?: string;
  readonly keys?: string;
  readonly cache?: string;
  readonly expiry?: Partial<Expiry>;
  /**
   * Encrypts the new private keys with this passphrase (one per key name when a function).
   * Existing keys with the role's name in the key folder are reused as they are.
   */
  readonly passphrase?: string | ((keyName: string) => string | undefined);
  /** For reading existing encrypted keys that are reused. */
  readonly passphraseSource?: PassphraseSource;
  readonly now?: Date;
}

async function isNonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch {
    return false;
  }
}

/** Refuses to set up over an existing project, or with the keys inside the repository folder. */
async function checkFreshProject(config: RepoConfig): Promise<void> {
  if (await pathExists(config.file)) {
    throw new UsageError(
      'ALREADY_INITIALISED',
      `${config.file} already exists: this folder is already set up`,
    );
  }
  if (await isNonEmptyDir(join(config.repository, 'metadata'))) {
    throw new UsageError(
      'ALREADY_INITIALISED',
      `${config.repository}/metadata is not empty: pick another repository folder`,
    );
  }
  const keysInRepo = relative(config.repository, config.keys);
  if (keysInRepo === '' || (!keysInRepo.startsWith('..') && !isAbsolute(keysInRepo))) {
    throw new UsageError(
      'KEYS_IN_REPOSITORY',
      'the key folder must be outside the repository folder (private keys must never be published)',
    );
  }
}

/** One key per top-level role: the one already in the key folder under its name, or a new one. */
async function roleKeysFor(config: RepoConfig, options: InitOptions): Promise<Map<RoleName, StoredKey>> {
  const existing = new Map((await listKeys(config.keys)).map((k) => [k.name, k]));
  const roleKeys = new Map<RoleName, StoredKey>();
  for (const role of ROLE_NAMES) {
    let key = existing.get(role);
    if (key === undefined) {
      const pass = typeof options.passphrase === 'function' ? options.passphrase(role) : options.passphrase;
      key = await createKey(config.keys, role, pass === undefined ? {} : { passphrase: pass });
    }
    roleKeys.set(role, key);
  }
  return roleKeys;
}

/** The signed version-1 metadata of an empty repository, as the files to write. */
async function firstMetadata(
  config: RepoConfig,
  options: InitOptions,
  roleKeys: Map<RoleName, StoredKey>,
  now: Date,
): Promise<StagedWrite[]> {
  const { expiry } = config;
  const keys: Record<string, Key> = {};
  const roles = {} as Record<RoleName, RoleSpec>;
  for (const [role, k] of roleKeys) {
    keys[k.key.keyID] = k.key;
    roles[role] = { keyIDs: [k.key.keyID], threshold: 1 };
  }
  const sign = async (role: RoleName, md: Metadata<Root | Targets | Snapshot | Timestamp>): Promise<void> => {
    const k = roleKeys.get(role);
    if (k === undefined) throw new TypeError(`no key for ${role}`);
    md.sign(await loadSigner(config.keys, k.name, passphraseFromOption(options)), true);
  };
  const root = new Metadata(buildRoot({ version: 1, expires: expiresAt(now, expiry.root), keys, roles }));
  await sign('root', root);
  const targets = new Metadata(
    new Targets({ version: 1, specVersion: SPEC_VERSION, expires: expiresAt(now, expiry.targets) }),
  );
  await sign('targets', targets);
  const snapshot = new Metadata(
    new Snapshot({
      version: 1,
      specVersion: SPEC_VERSION,
      expires: expiresAt(now, expiry.snapshot),
      meta: { 'targets.json': new MetaFile({ version: 1 }) },
    }),
  );
  await sign('snapshot', snapshot);
  const snapshotBytes = serializeMetadata(snapshot);
  // makeTimestamp bumps the version it is given: start from a version-0 template.
  const timestamp = makeTimestamp({ version: 0, specVersion: SPEC_VERSION }, 1, snapshotBytes, now, expiry);
  await sign('timestamp', timestamp);
  const rootBytes = serializeMetadata(root);
  return [
    { rel: 'metadata/1.root.json', bytes: rootBytes },
    { rel: 'metadata/root.json', bytes: rootBytes },
    { rel: 'metadata/1.targets.json', bytes: serializeMetadata(targets) },
    { rel: 'metadata/1.snapshot.json', bytes: snapshotBytes },
    { rel: 'metadata/timestamp.json', bytes: serializeMetadata(timestamp) },
  ];
}

/**
 * Makes a new project in `dir`: `notsotuf.json`, a key folder with one ed25519 key per top-level
 * role (named root, targets, snapshot, timestamp), and an empty signed repository (`metadata/`
 * with 1.root.json, root.json, 1.targets.json, 1.snapshot.json, timestamp.json; `targets/`).
 */
export async function initRepository(dir: string, options: InitOptions): Promise<RepoConfig> {
  const app = checkAppName(options.app);
  const expiry = checkExpiry(options.expiry ?? {});
  const now = options.now ?? new Date();
  const config: RepoConfig = {
    file: resolve(dir, CONFIG_FILE),
    app,
    repository: resolve(dir, options.repository ?? 'repository'),
    keys: resolve(dir, options.keys ?? 'keys'),
    cache: resolve(dir, options.cache ?? '.notsotuf-cache'),
    expiry,
  };
  await checkFreshProject(config);
  await makeDirs(config.keys, 0o700);
  const roleKeys = await roleKeysFor(config, options);
  const files = await firstMetadata(config, options, roleKeys, now);
  await makeDirs(join(config.repository, 'targets'));
  await commitWrites(config.repository, files);
  await makeDirs(config.cache);
  await writeConfig(config);
  return config;
}

/** Passphrases of the keys just made first, then the caller's source (for reused keys). */
function passphraseFromOption(options: InitOptions): PassphraseSource {
  return async (name) =>
    (typeof options.passphrase === 'function' ? options.passphrase(name) : options.passphrase) ??
    (await options.passphraseSource?.(name));
}
