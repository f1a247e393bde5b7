import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Updater } from 'tuf-js';
import {
  addRelease,
  initRepository,
  publishRepository,
  pruneRepository,
  removeLatestRelease,
  serveRepository,
  verifyRepository,
} from '../../src/repo/index.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

test('release prune removes what no recent metadata names; the repository still verifies and serves a fresh client', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0']) await addRelease(config, v, await appFolder(apps, v));
  await removeLatestRelease(config); // 1.3.0 withdrawn: targets v6
  await addRelease(config, '1.3.1', await appFolder(apps, '1.3.1')); // targets v7
  const dest = join(await tempDir('notsotuf-public-'), 'site');
  await publishRepository(config.repository, dest);
  await writeFile(join(dest, 'index.html'), 'not ours');

  await assert.rejects(pruneRepository(config, { keep: 1 }), { code: 'INVALID_KEEP' });
  const before = await hashTree(config.repository);
  const dry = await pruneRepository(config, { keep: 2, dryRun: true });
  assert.deepEqual(await hashTree(config.repository), before, 'a dry run changes nothing');
  const real = await pruneRepository(config, { keep: 2 });
  assert.deepEqual(real.removed, dry.removed);
  assert.ok(real.bytes > 0);

  assert.deepEqual(
    await readdir(join(config.cache, 'tars')),
    ['demo-1.3.1.tar'],
    'only the newest tar is cached',
  );
  assert.ok(real.removed.includes('cache:tars/demo-1.0.0.tar'));
  const metadata = (await readdir(join(config.repository, 'metadata'))).sort();
  assert.deepEqual(metadata, [
    '1.root.json',
    '6.snapshot.json',
    '6.targets.json',
    '7.snapshot.json',
    '7.targets.json',
    'root.json',
    'timestamp.json',
  ]);
  const targets = await readdir(join(config.repository, 'targets'));
  assert.ok(
    !targets.some((n) => n.endsWith('.demo-1.3.0.tar.gz')),
    'the withdrawn release is gone (no kept version names it)',
  );
  assert.ok(
    targets.some((n) => n.endsWith('.demo-1.0.0.tar.gz')),
    'current releases stay',
  );
  const report = await verifyRepository(config.repository);
  assert.equal(report.ok, true, JSON.stringify(report.problems));

  const server = await serveRepository({ root: config.repository });
  try {
    const clientDir = join(dir, 'client');
    await mkdir(clientDir);
    await copyFile(join(config.repository, 'metadata', '1.root.json'), join(clientDir, 'root.json'));
    const updater = new Updater({
      metadataDir: clientDir,
      metadataBaseUrl: `${server.url}/metadata`,
      targetDir: clientDir,
      targetBaseUrl: `${server.url}/targets`,
    });
    await updater.refresh();
    for (const r of report.releases) {
      const info = await updater.getTargetInfo(r.archive);
      assert.ok(info);
      await updater.downloadTarget(info, join(clientDir, r.archive));
    }
  } finally {
    await server.close();
  }

  // The published copy follows with --delete; files that are not ours stay.
  const published = await publishRepository(config.repository, dest, { deleteExtra: true });
  assert.equal(published.deleted.length, real.removed.filter((r) => !r.startsWith('cache:')).length);
  const destTree = await hashTree(dest);
  destTree.delete('index.html');
  assert.deepEqual(destTree, await hashTree(config.repository));
});
