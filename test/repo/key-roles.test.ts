import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Updater } from 'tuf-js';
import {
  addKeyToRole,
  addRelease,
  createKey,
  initRepository,
  replaceKey,
  revokeKey,
  serveRepository,
  setThreshold,
  signRole,
  verifyRepository,
} from '../../src/repo/index.js';
import type { RepoConfig } from '../../src/repo/index.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

async function clientRefresh(config: RepoConfig, clientDir: string): Promise<void> {
  const server = await serveRepository({ root: config.repository });
  try {
    const updater = new Updater({
      metadataDir: clientDir,
      metadataBaseUrl: `${server.url}/metadata`,
      targetBaseUrl: `${server.url}/targets`,
    });
    await updater.refresh();
    const info = await updater.getTargetInfo('demo-1.0.0.tar.gz');
    assert.ok(info);
  } finally {
    await server.close();
  }
}

test('replacing the targets, snapshot and timestamp keys: new root, re-signed roles, a client that was up to date follows', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const clientDir = join(dir, 'client');
  await mkdir(clientDir);
  await copyFile(join(config.repository, 'metadata', '1.root.json'), join(clientDir, 'root.json'));
  await clientRefresh(config, clientDir);

  let expectedRoot = 1;
  for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
    await createKey(config.keys, `${role}-2`);
    const r = await replaceKey(config, role, `${role}-2`);
    expectedRoot++;
    assert.equal(r.rootVersion, expectedRoot);
    const report = await verifyRepository(config.repository);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    const status = report.roles.find((s) => s.role === role);
    assert.deepEqual(status?.signedBy, status?.keyIDs, `${role} is signed by its new key only`);
    await clientRefresh(config, clientDir);
  }
  // The old keys sign nothing now: revoking one that is no longer in any role is refused.
  await assert.rejects(revokeKey(config, 'targets'), { code: 'KEY_NOT_IN_ROLE' });
});

test('thresholds: refused above the number of keys; a role cannot lose its last key; revoke lowers with --threshold', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  const before = await hashTree(dir);
  await assert.rejects(setThreshold(config, 'targets', 2), { code: 'INVALID_THRESHOLD' });
  await assert.rejects(setThreshold(config, 'targets', 0), { code: 'INVALID_THRESHOLD' });
  await assert.rejects(revokeKey(config, 'targets'), { code: 'ROLE_WITHOUT_KEYS' });
  await assert.rejects(addKeyToRole(config, 'targets', 'nobody'), { code: 'MISSING_KEY' });
  await assert.rejects(addKeyToRole(config, 'targets', 'targets'), { code: 'KEY_ALREADY_IN_ROLE' });
  assert.deepEqual(await hashTree(dir), before);

  await createKey(config.keys, 'targets-b');
  await addKeyToRole(config, 'targets', 'targets-b', { threshold: 2 });
  let report = await verifyRepository(config.repository);
  assert.equal(report.ok, true, 'both targets keys are here, so both signed');
  await assert.rejects(revokeKey(config, 'targets-b'), { code: 'INVALID_THRESHOLD' });
  await revokeKey(config, 'targets-b', { threshold: 1 });
  report = await verifyRepository(config.repository);
  assert.equal(report.ok, true);
  assert.equal(report.roles.find((r) => r.role === 'targets')?.keyIDs.length, 1);
});

test('sign snapshot with a second key makes a new timestamp that names the re-signed snapshot', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  const other = join(dir, 'other-keys');
  await createKey(other, 'snapshot-b');
  await copyFile(join(other, 'snapshot-b.pub.json'), join(config.keys, 'snapshot-b.pub.json'));
  await addKeyToRole(config, 'snapshot', 'snapshot-b', { threshold: 2 });
  let report = await verifyRepository(config.repository);
  assert.equal(report.roles.find((r) => r.role === 'snapshot')?.missing, 1);
  // The other machine has the timestamp key too (it must re-sign timestamp).
  await copyFile(join(config.keys, 'timestamp.key'), join(other, 'timestamp.key'));
  await copyFile(join(config.keys, 'timestamp.pub.json'), join(other, 'timestamp.pub.json'));
  const r = await signRole(config, 'snapshot', { keyDir: other });
  assert.deepEqual(r.added, ['snapshot-b']);
  report = await verifyRepository(config.repository);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
});

test('one command at a time: a held lock refuses a second writer with a clear message', async () => {
  const dir = await tempDir();
  const config = await initRepository(dir, { app: 'demo' });
  await writeFile(join(config.cache, 'lock'), `${process.pid}\n`);
  await assert.rejects(signRole(config, 'targets'), {
    code: 'REPOSITORY_LOCKED',
    message: /another notsotuf command is changing this repository/,
  });
});

test('a lock left by a process that is gone is taken over, and its temp files are removed', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  await writeFile(join(config.cache, 'lock'), `${gone.stdout}\n`);
  await writeFile(join(config.repository, 'metadata', '.tmp-abc-2.targets.json'), 'half written');
  await mkdir(join(config.cache, 'work-xyz'));
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const left = [...(await hashTree(dir)).keys()].filter(
    (k) => k.includes('.tmp-') || k.includes('work-') || k.endsWith('/lock'),
  );
  assert.deepEqual(left, []);
});
