import { createHash, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Key, Signature } from '@tufjs/models';
import { canonicalJson } from './canonical-json.js';

/**
 * ed25519 keys in TUF form, and signers. Code that signs metadata gets a `Signer` (a function),
 * never the private KeyObject (STYLE 11): the key stays in this module and in key-store.ts.
 */
export type Signer = (data: Buffer) => Signature;

export const KEY_TYPE = 'ed25519';
export const KEY_SCHEME = 'ed25519';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: Key;
}

/** The raw 32-byte ed25519 public key, hex, from a public or private KeyObject. */
export function publicHex(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError('not an ed25519 key');
  }
  return Buffer.from(jwk.x, 'base64url').toString('hex');
}

/** TUF key id: sha256 of the canonical JSON of the public key (TUF spec, "KEYID"). */
export function keyIdOf(publicKeyHex: string): string {
  const json = canonicalJson({ keytype: KEY_TYPE, scheme: KEY_SCHEME, keyval: { public: publicKeyHex } });
  return createHash('sha256').update(json).digest('hex');
}

/** The TUF public key (keytype ed25519, scheme ed25519, keyval.public hex) of a KeyObject. */
export function tufPublicKey(key: KeyObject): Key {
  const hex = publicHex(key);
  return new Key({ keyID: keyIdOf(hex), keyType: KEY_TYPE, scheme: KEY_SCHEME, keyVal: { public: hex } });
}

export function generateKey(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey: tufPublicKey(privateKey) };
}

/** A signer for `Metadata.sign`: signs the canonical bytes it is given with this key. */
export function signerFor(privateKey: KeyObject): Signer {
  const keyID = tufPublicKey(privateKey).keyID;
  return (data) => new Signature({ keyID, sig: cryptoSign(null, data, privateKey).toString('hex') });
}
