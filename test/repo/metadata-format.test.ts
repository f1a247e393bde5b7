import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addRelease, initRepository, keyIdOf } from '../../src/repo/index.js';
import { canonicalJson } from '../../src/repo/canonical-json.js';
import { appFolder, tempDir } from './publisher-fixture.js';

/**
 * The metadata on disk checked without @tufjs/models (which the publisher itself uses to sign):
 * raw JSON, signatures verified with node:crypto over our own canonical JSON, key ids recomputed,
 * `expires` without milliseconds, versions and hashes as a generic TUF client reads them.
 */
interface Signed {
  _type: string;
  version: number;
  expires: string;
  spec_version: string;
  [k: string]: unknown;
}
interface Envelope {
  signed: Signed;
  signatures: { keyid: string; sig: string }[];
}

test('metadata written by the publisher verifies with plain node:crypto and canonical JSON', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  await addRelease(config, '1.1.0', await appFolder(apps, '1.1.0'));
  const mdDir = join(config.repository, 'metadata');
  const read = async (name: string): Promise<{ env: Envelope; bytes: Buffer }> => {
    const bytes = await readFile(join(mdDir, name));
    return { env: JSON.parse(bytes.toString('utf8')) as Envelope, bytes };
  };
  const root = (await read('1.root.json')).env.signed as Signed & {
    keys: Record<string, { keytype: string; scheme: string; keyval: { public: string } }>;
    roles: Record<string, { keyids: string[]; threshold: number }>;
    consistent_snapshot: boolean;
  };
  assert.equal(root.consistent_snapshot, true);
  for (const [id, key] of Object.entries(root.keys)) {
    assert.equal(key.keytype, 'ed25519');
    assert.equal(key.scheme, 'ed25519');
    assert.equal(id, keyIdOf(key.keyval.public));
  }
  const checkSigned = (env: Envelope, role: string): void => {
    assert.equal(env.signed._type, role);
    assert.match(
      env.signed.expires,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
      `${role} expires without milliseconds`,
    );
    assert.match(env.signed.spec_version, /^1\.\d+\.\d+$/);
    const message = Buffer.from(canonicalJson(env.signed));
    const r = root.roles[role];
    assert.ok(r);
    let valid = 0;
    for (const s of env.signatures) {
      const key = root.keys[s.keyid];
      if (key === undefined || !r.keyids.includes(s.keyid)) continue;
      const spki = Buffer.concat([
        Buffer.from('302a300506032b6570032100', 'hex'),
        Buffer.from(key.keyval.public, 'hex'),
      ]);
      const pub = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      assert.ok(
        verify(null, message, pub, Buffer.from(s.sig, 'hex')),
        `${role}: signature by ${s.keyid} verifies`,
      );
      valid++;
    }
    assert.ok(valid >= r.threshold, `${role} meets its threshold`);
  };
  checkSigned((await read('1.root.json')).env, 'root');
  const timestamp = (await read('timestamp.json')).env;
  checkSigned(timestamp, 'timestamp');
  const snapMeta = (
    timestamp.signed.meta as Record<string, { version: number; length: number; hashes: { sha256: string } }>
  )['snapshot.json'];
  assert.ok(snapMeta);
  const snap = await read(`${snapMeta.version}.snapshot.json`);
  assert.equal(snap.bytes.length, snapMeta.length);
  assert.equal(createHash('sha256').update(snap.bytes).digest('hex'), snapMeta.hashes.sha256);
  checkSigned(snap.env, 'snapshot');
  const targetsMeta = (snap.env.signed.meta as Record<string, { version: number }>)['targets.json'];
  assert.ok(targetsMeta);
  const targets = (await read(`${targetsMeta.version}.targets.json`)).env;
  checkSigned(targets, 'targets');
  const files = targets.signed.targets as Record<string, { length: number; hashes: { sha256: string } }>;
  assert.deepEqual(Object.keys(files).sort(), ['demo-1.0.0.tar.gz', 'demo-1.1.0.patch', 'demo-1.1.0.tar.gz']);
  const stored = await readdir(join(config.repository, 'targets'));
  for (const [name, t] of Object.entries(files)) {
    const file = `${t.hashes.sha256}.${name}`;
    assert.ok(stored.includes(file), `${file} is stored hash-prefixed`);
    const bytes = await readFile(join(config.repository, 'targets', file));
    assert.equal(bytes.length, t.length);
  }
  assert.deepEqual(await readFile(join(mdDir, 'root.json')), await readFile(join(mdDir, '1.root.json')));
});
