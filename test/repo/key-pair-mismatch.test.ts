import assert from 'node:assert/strict';
import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addRelease, initRepository, loadSigner } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

/**
 * A private key that does not belong to its public key (`cp keys/other.key keys/targets.key`) would
 * sign metadata that no client accepts (0 of 1 valid signatures). It is refused when loaded, before
 * anything is written.
 */

test('loadSigner refuses a .key that does not match its .pub.json (KEY_MISMATCH), naming both files', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  await copyFile(join(config.keys, 'snapshot.key'), join(config.keys, 'targets.key'));
  await assert.rejects(loadSigner(config.keys, 'targets'), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'UsageError');
    assert.equal(e.code, 'KEY_MISMATCH');
    assert.match(e.message, /targets\.key/);
    assert.match(e.message, /targets\.pub\.json/);
    return true;
  });
  // The matching pair still loads.
  assert.equal(typeof (await loadSigner(config.keys, 'snapshot')), 'function');
});

test('release add with a swapped targets.key fails before writing: repository byte for byte unchanged', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  await copyFile(join(config.keys, 'snapshot.key'), join(config.keys, 'targets.key'));
  const before = await hashTree(config.repository);
  await assert.rejects(addRelease(config, '1.1.0', await appFolder(apps, '1.1.0')), { code: 'KEY_MISMATCH' });
  assert.deepEqual(await hashTree(config.repository), before);
});

test('CLI: release add with a swapped key exits non-zero, says which key, and writes nothing', async () => {
  const dir = await tempDir();
  assert.equal((await cli(['init', '--yes', '--app', 'demo'], { cwd: dir })).code, 0);
  await appFolder(dir, '1.0.0');
  const folder = (await readdir(dir)).find((n) => n.startsWith('app-1.0.0-'));
  assert.ok(folder);
  await copyFile(join(dir, 'keys', 'timestamp.key'), join(dir, 'keys', 'targets.key'));
  const before = await hashTree(join(dir, 'repository'));
  const r = await cli(['release', 'add', '1.0.0', folder], { cwd: dir });
  assert.notEqual(r.code, 0, r.stdout);
  assert.doesNotMatch(r.stdout, /Released/);
  assert.match(r.stderr, /targets\.key does not belong to .*targets\.pub\.json/);
  assert.deepEqual(await hashTree(join(dir, 'repository')), before);
});
