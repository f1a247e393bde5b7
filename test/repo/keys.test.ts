import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Metadata, Targets } from '@tufjs/models';
import {
  createKey,
  generateKey,
  keyIdOf,
  listKeys,
  loadSigner,
  readPublicKey,
  signerFor,
} from '../../src/repo/index.js';
import { canonicalJson } from '../../src/repo/canonical-json.js';
import { expiresAt } from '../../src/repo/expiry.js';
import { tempDir } from './publisher-fixture.js';

test('key id is sha256 of the canonical JSON of the TUF public key', () => {
  const { publicKey } = generateKey();
  const hex = publicKey.keyVal.public ?? '';
  assert.match(hex, /^[0-9a-f]{64}$/);
  const canonical = `{"keytype":"ed25519","keyval":{"public":"${hex}"},"scheme":"ed25519"}`;
  assert.equal(canonicalJson({ scheme: 'ed25519', keytype: 'ed25519', keyval: { public: hex } }), canonical);
  assert.equal(keyIdOf(hex), createHash('sha256').update(canonical).digest('hex'));
  assert.equal(publicKey.keyID, keyIdOf(hex));
});

test('canonical JSON refuses floats (TUF signs integers only)', () => {
  assert.throws(() => canonicalJson({ a: 1.5 }), /integers only/);
  assert.equal(canonicalJson({ b: 'x"\\', a: [1, true, null] }), '{"a":[1,true,null],"b":"x\\"\\\\"}');
});

test('a signer signs metadata that verifies with the TUF public key', () => {
  const { privateKey, publicKey } = generateKey();
  const md = new Metadata(
    new Targets({ version: 1, specVersion: '1.0.31', expires: expiresAt(new Date(), 1) }),
  );
  md.sign(signerFor(privateKey));
  publicKey.verifySignature(md);
  const other = generateKey();
  assert.throws(() => other.publicKey.verifySignature(md));
});

test('expires has no milliseconds', () => {
  assert.equal(expiresAt(new Date('2026-01-01T10:20:30.456Z'), 1), '2026-01-02T10:20:30Z');
});

test('stored keys: PKCS#8 PEM, encrypted with aes-256-cbc when asked; wrong passphrase refused', async () => {
  const dir = await tempDir();
  const plain = await createKey(dir, 'plain');
  const enc = await createKey(dir, 'secret', { passphrase: 'correct horse' });
  assert.match(await readFile(join(dir, 'plain.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  const encPem = await readFile(join(dir, 'secret.key'), 'utf8');
  assert.match(encPem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.equal((await readPublicKey(dir, 'secret')).key.keyID, enc.key.keyID);
  assert.deepEqual(
    (await listKeys(dir)).map((k) => [k.name, k.encrypted, k.hasPrivate]),
    [
      ['plain', false, true],
      ['secret', true, true],
    ],
  );
  const sign = await loadSigner(dir, 'secret', (name) =>
    Promise.resolve(name === 'secret' ? 'correct horse' : undefined),
  );
  assert.equal(sign(Buffer.from('x')).keyID, enc.key.keyID);
  await assert.rejects(
    loadSigner(dir, 'secret', () => Promise.resolve('wrong')),
    { code: 'WRONG_PASSPHRASE' },
  );
  await assert.rejects(loadSigner(dir, 'secret'), { code: 'PASSPHRASE_REQUIRED' });
  await assert.rejects(loadSigner(dir, 'missing'), { code: 'MISSING_KEY' });
  await assert.rejects(createKey(dir, 'plain'), { code: 'KEY_EXISTS' });
  await assert.rejects(createKey(dir, '../evil'), { code: 'INVALID_KEY_NAME' });
  assert.equal((await loadSigner(dir, 'plain'))(Buffer.from('y')).keyID, plain.key.keyID);
});

test('canonical JSON from @tufjs/canonical-json is byte for byte what notsotuf signed before', () => {
  // The expected string is what notsotuf's own encoder (replaced by the library) produced: key
  // order by code unit (non-ASCII, astral, NUL), only " and \ escaped, -0 as 0, safe integers.
  const tricky = {
    z: [1, -2, 0, 9007199254740991, true, false, null, 'q"b\\s/\n\t\u0001é😀'],
    é: {},
    A: { b: [], a: '' },
    '😀': 1,
    'a\u0000': 'x',
    '': -0,
  };
  assert.equal(
    canonicalJson(tricky),
    '{"":0,"A":{"a":"","b":[]},"a\u0000":"x","z":[1,-2,0,9007199254740991,true,false,null,"q\\"b\\\\s/\n\t\u0001é😀"],"é":{},"😀":1}',
  );
  assert.throws(() => canonicalJson({ a: { b: [undefined] } }), /\$\.a\.b\[0\]/);
});
