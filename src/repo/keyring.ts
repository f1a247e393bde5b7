import type { Root } from '@tufjs/models';
import { UsageError } from '../errors.js';
import type { RoleName } from './roles.js';
import { listKeys, loadSigner } from './key-store.js';
import type { PassphraseSource, StoredKey } from './key-store.js';
import type { Signer } from './keys.js';

/**
 * The keys at hand: the key folder, read lazily. A private key is decrypted only when a role it
 * belongs to must be signed, so a command never asks for passphrases it does not need.
 */
export interface Keyring {
  /** Stored private keys whose key id the root lists for `role`. */
  keysFor(root: Root, role: RoleName): Promise<StoredKey[]>;
  signer(key: StoredKey): Promise<Signer>;
  readonly keyDir: string;
}

export function openKeyring(keyDir: string, passphrase?: PassphraseSource): Keyring {
  let all: Promise<StoredKey[]> | undefined;
  const loaded = new Map<string, Promise<Signer>>();
  return {
    keyDir,
    async keysFor(root, role) {
      all ??= listKeys(keyDir);
      const ids = root.roles[role]?.keyIDs ?? [];
      return (await all).filter((k) => k.hasPrivate && ids.includes(k.key.keyID));
    },
    signer(key) {
      let s = loaded.get(key.name);
      if (s === undefined) {
        s = loadSigner(keyDir, key.name, passphrase);
        loaded.set(key.name, s);
      }
      return s;
    },
  };
}

/** The keys of `role` under any of `roots` that the keyring holds, each once, in the roots' order. */
export async function keysForAny(
  keyring: Keyring,
  roots: readonly Root[],
  role: RoleName,
): Promise<StoredKey[]> {
  const seen = new Set<string>();
  const keys: StoredKey[] = [];
  for (const root of roots) {
    for (const k of await keyring.keysFor(root, role)) {
      if (!seen.has(k.key.keyID)) {
        seen.add(k.key.keyID);
        keys.push(k);
      }
    }
  }
  return keys;
}

/** Signers for every key of `role` (under each root given) found in the keyring; none is an error. */
export async function signersFor(
  keyring: Keyring,
  roots: readonly Root[],
  role: RoleName,
): Promise<Signer[]> {
  const keys = await keysForAny(keyring, roots, role);
  if (keys.length === 0) {
    const ids = [...new Set(roots.flatMap((r) => r.roles[role]?.keyIDs ?? []))].map((id) => id.slice(0, 12));
    throw new UsageError(
      'MISSING_KEY',
      `no ${role} key in ${keyring.keyDir}: signing ${role} needs one of the keys ${ids.join(', ')} (copy its .key and .pub.json there, or use --keys)`,
    );
  }
  const signers: Signer[] = [];
  for (const k of keys) signers.push(await keyring.signer(k));
  return signers;
}
