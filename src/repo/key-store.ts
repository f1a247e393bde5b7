import { createPrivateKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Key } from '@tufjs/models';
import { DataError, UsageError, messageOf } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { pathExists } from '../io/path-exists.js';
import { generateKey, keyIdOf, publicHex, signerFor } from './keys.js';
import type { Signer } from './keys.js';

/**
 * The key folder (outside the repository): `<name>.key` is the private key as PKCS#8 PEM (encrypted
 * PKCS#8 with aes-256-cbc when a passphrase is given), `<name>.pub.json` its TUF public key with the
 * key id, so roles can be matched to keys without decrypting anything.
 */

export const KEY_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_KEY_FILE = 64 * 1024;

/** A passphrase and where it came from ("NOTSOTUF_PASSPHRASE", "the prompt"), for messages. */
export interface PassphraseAnswer {
  readonly passphrase: string;
  readonly from: string;
}

/** Asks for the passphrase of one key; undefined when none can be had. */
export type PassphraseSource = (keyName: string) => Promise<string | PassphraseAnswer | undefined>;

export interface StoredKey {
  readonly name: string;
  readonly key: Key;
  readonly encrypted: boolean;
  /** Whether the private key file is here too (else the key can be named in roles but not sign). */
  readonly hasPrivate: boolean;
}

export function checkKeyName(name: string): string {
  if (!KEY_NAME_PATTERN.test(name)) {
    throw new UsageError(
      'INVALID_KEY_NAME',
      `"${name}" is not a valid key name: use 1-64 letters, digits, "_" and "-"`,
    );
  }
  return name;
}

/** Makes a new ed25519 key pair in the key folder. Refuses to overwrite a key of the same name. */
export async function createKey(
  keyDir: string,
  name: string,
  options: { passphrase?: string } = {},
): Promise<StoredKey> {
  checkKeyName(name);
  const privPath = join(keyDir, `${name}.key`);
  if ((await pathExists(privPath)) || (await pathExists(join(keyDir, `${name}.pub.json`)))) {
    throw new UsageError(
      'KEY_EXISTS',
      `a key named "${name}" already exists in ${keyDir}: pick another name (keys are never overwritten)`,
    );
  }
  const { privateKey, publicKey } = generateKey();
  const encrypted = options.passphrase !== undefined;
  if (encrypted && options.passphrase === '') {
    throw new UsageError('EMPTY_PASSPHRASE', 'the passphrase is empty: give a non-empty passphrase');
  }
  const pem = privateKey.export(
    encrypted
      ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: options.passphrase }
      : { type: 'pkcs8', format: 'pem' },
  );
  await writeFileAtomic(privPath, pem, { mode: 0o600, makeParent: true });
  const pub = { keyid: publicKey.keyID, ...publicKey.toJSON() };
  await writeFileAtomic(join(keyDir, `${name}.pub.json`), `${JSON.stringify(pub, null, 2)}\n`, {
    mode: 0o644,
    makeParent: true,
  });
  return { name, key: publicKey, encrypted, hasPrivate: true };
}

async function readBounded(path: string, what: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (cause) {
    throw new UsageError('MISSING_KEY', `cannot read ${what} ${path}: ${messageOf(cause)}`, { cause });
  }
  if (data.length > MAX_KEY_FILE) throw new DataError('BAD_KEY_FILE', `${path} is too large for a key file`);
  return data;
}

/** The public key of one stored key. */
export async function readPublicKey(keyDir: string, name: string): Promise<StoredKey> {
  checkKeyName(name);
  const path = join(keyDir, `${name}.pub.json`);
  const data = await readBounded(path, 'public key');
  let key: Key;
  try {
    const json = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    const { keyid, ...rest } = json;
    key = Key.fromJSON(String(keyid), rest as Parameters<typeof Key.fromJSON>[1]);
  } catch (cause) {
    throw new DataError('BAD_KEY_FILE', `${path} is not a TUF public key: ${messageOf(cause)}`, { cause });
  }
  if (key.keyType !== 'ed25519' || typeof key.keyVal.public !== 'string') {
    throw new DataError('BAD_KEY_FILE', `${path} is not an ed25519 public key`);
  }
  // The file's key id must be the one computed from the key, or role matching would lie.
  if (keyIdOf(key.keyVal.public) !== key.keyID) {
    throw new DataError('BAD_KEY_FILE', `${path}: key id does not match the key (file edited?)`);
  }
  if (!/^[0-9a-f]{64}$/.test(key.keyVal.public)) {
    throw new DataError('BAD_KEY_FILE', `${path}: public key is not 32 bytes of hex`);
  }
  const priv = await readFile(join(keyDir, `${name}.key`), 'utf8').catch(() => undefined);
  return {
    name,
    key,
    encrypted: priv?.includes('ENCRYPTED PRIVATE KEY') === true,
    hasPrivate: priv !== undefined,
  };
}

/** Every key in the key folder (by its `.pub.json`), sorted by name. A missing folder has none. */
export async function listKeys(keyDir: string): Promise<StoredKey[]> {
  let names: string[];
  try {
    names = await readdir(keyDir);
  } catch {
    return [];
  }
  const out: StoredKey[] = [];
  for (const file of names.sort()) {
    if (!file.endsWith('.pub.json')) continue;
    const name = file.slice(0, -'.pub.json'.length);
    if (!KEY_NAME_PATTERN.test(name)) continue;
    out.push(await readPublicKey(keyDir, name));
  }
  return out;
}

/**
 * Loads one private key and returns a signer for it. An encrypted key asks `passphrase` for its
 * passphrase; a wrong one is a UsageError (WRONG_PASSPHRASE).
 */
export async function loadSigner(
  keyDir: string,
  name: string,
  passphrase: PassphraseSource = () => Promise.resolve(undefined),
): Promise<Signer> {
  checkKeyName(name);
  const path = join(keyDir, `${name}.key`);
  const pem = (await readBounded(path, 'private key')).toString('utf8');
  let key: KeyObject;
  if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    const answer = await passphrase(name);
    const pass = typeof answer === 'object' ? answer.passphrase : answer;
    if (pass === undefined || pass === '') {
      throw new UsageError(
        'PASSPHRASE_REQUIRED',
        `key "${name}" is encrypted: give its passphrase (prompt, or env NOTSOTUF_PASSPHRASE_${envKeyName(name)} or NOTSOTUF_PASSPHRASE)`,
      );
    }
    try {
      key = createPrivateKey({ key: pem, format: 'pem', passphrase: pass });
    } catch (cause) {
      throw new UsageError('WRONG_PASSPHRASE', wrongPassphrase(name, path, answer), { cause });
    }
  } else {
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch (cause) {
      throw new DataError('BAD_KEY_FILE', `${path} is not a PKCS#8 PEM private key: ${messageOf(cause)}`, {
        cause,
      });
    }
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new DataError('BAD_KEY_FILE', `${path} is not an ed25519 key`);
  }
  await checkKeyPair(keyDir, name, key);
  return signerFor(key);
}

/**
 * The private key must be the one its `.pub.json` names: roles are matched to keys by the public
 * file, so a swapped `.key` (`cp other.key targets.key`) would sign metadata no client accepts.
 * Checked on load, before anything is signed or written.
 */
async function checkKeyPair(keyDir: string, name: string, key: KeyObject): Promise<void> {
  const stored = await readPublicKey(keyDir, name);
  if (stored.key.keyVal.public === publicHex(key)) return;
  const priv = join(keyDir, `${name}.key`);
  const pub = join(keyDir, `${name}.pub.json`);
  throw new UsageError(
    'KEY_MISMATCH',
    `${priv} does not belong to ${pub} (its public key has key id ${keyIdOf(publicHex(key)).slice(0, 12)}, the .pub.json names ${stored.key.keyID.slice(0, 12)}): put back the .key file made with this .pub.json (or both files of another key, then notsotuf keys replace). Nothing was signed`,
  );
}

/** What to do about a wrong passphrase, depending on where it came from. */
function wrongPassphrase(name: string, path: string, answer: string | PassphraseAnswer | undefined): string {
  const own = `NOTSOTUF_PASSPHRASE_${envKeyName(name)}`;
  const from = typeof answer === 'object' ? answer.from : undefined;
  const fix =
    from === undefined || from === 'the prompt'
      ? 'run the command again and type it again'
      : `set ${own} (or NOTSOTUF_PASSPHRASE) to this key's passphrase, or unset them to be asked (they are read before any prompt)`;
  return (
    `wrong passphrase for key "${name}" (${path})${from === undefined ? '' : `, from ${from}`}: ${fix}. ` +
    `A lost passphrase cannot be recovered: make a new key (notsotuf keys new NAME --encrypt), then notsotuf keys replace ${name} NAME`
  );
}

/** `my-key` -> `MY_KEY`, for the per-key passphrase variable NOTSOTUF_PASSPHRASE_<NAME>. */
export function envKeyName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** Passphrases from the environment: NOTSOTUF_PASSPHRASE_<KEYNAME> first, then NOTSOTUF_PASSPHRASE. */
export function envPassphrases(env: Readonly<Record<string, string | undefined>>): PassphraseSource {
  return (name) => {
    const own = `NOTSOTUF_PASSPHRASE_${envKeyName(name)}`;
    const value = env[own] ?? env.NOTSOTUF_PASSPHRASE;
    const from = env[own] !== undefined ? own : 'NOTSOTUF_PASSPHRASE';
    return Promise.resolve(value === undefined ? undefined : { passphrase: value, from });
  };
}
