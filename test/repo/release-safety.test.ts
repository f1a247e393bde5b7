import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { addRelease, initRepository, readReleases } from '../../src/repo/index.js';
import { cli } from '../helpers/cli.js';
import { appFolder, hashTree, tempDir } from './publisher-fixture.js';

/** A release that would ship a broken app (an empty or wrong build folder) is refused before anything is written. */

test('release add refuses an empty folder (clients would "update" to an empty install folder), repository unchanged', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await appFolder(apps, '1.0.0'));
  const before = await hashTree(config.repository);
  const empty = join(apps, 'empty');
  await mkdir(join(empty, 'only', 'folders'), { recursive: true });
  await assert.rejects(addRelease(config, '1.9.0', empty), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'UsageError');
    assert.equal(e.code, 'EMPTY_RELEASE_FOLDER');
    assert.match(e.message, /holds no files/);
    assert.match(e.message, /Build the app/);
    return true;
  });
  // even as the first release, and even with force: an empty app is never what anyone ships
  await assert.rejects(addRelease(config, '1.9.0', empty, { force: true }), { code: 'EMPTY_RELEASE_FOLDER' });
  assert.deepEqual(await hashTree(config.repository), before);
  const fresh = await initRepository(await tempDir(), { app: 'demo' });
  await assert.rejects(addRelease(fresh, '1.0.0', empty), { code: 'EMPTY_RELEASE_FOLDER' });
});

async function bigApp(parent: string, name: string, files: number): Promise<string> {
  const dir = join(parent, name);
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'main.js'), 'console.log(1);\n');
  for (let i = 0; i < files; i += 1)
    await writeFile(join(dir, 'lib', `part${i}.js`), `export const n = ${i};\n`);
  return dir;
}

test('release add refuses a folder that drops most of the previous release files (a wrong build folder) unless forced', async () => {
  const dir = await tempDir();
  const apps = await tempDir('notsotuf-apps-');
  const config = await initRepository(dir, { app: 'demo' });
  await addRelease(config, '1.0.0', await bigApp(apps, 'full', 9));
  const before = await hashTree(config.repository);
  // The wrong folder: only main.js of the ten files is left.
  const wrong = await bigApp(apps, 'wrong', 0);
  await assert.rejects(addRelease(config, '1.1.0', wrong), (e: Error & { code?: string }) => {
    assert.equal(e.name, 'UsageError');
    assert.equal(e.code, 'RELEASE_DROPS_FILES');
    assert.match(e.message, /9 of the 10 files of demo 1\.0\.0/);
    assert.match(e.message, /lib\/part0\.js/);
    assert.match(e.message, /--force/);
    return true;
  });
  assert.deepEqual(await hashTree(config.repository), before, 'nothing was written');
  // Also when no patch is made (the check does not depend on the patch).
  await assert.rejects(addRelease(config, '1.1.0', wrong, { skipPatch: true }), {
    code: 'RELEASE_DROPS_FILES',
  });
  // Without the cached tar (rebuilt from the repository's archive).
  await rm(join(config.cache, 'tars'), { recursive: true });
  await assert.rejects(addRelease(config, '1.1.0', wrong), { code: 'RELEASE_DROPS_FILES' });
  assert.deepEqual(await hashTree(config.repository), before);
  // Dropping a few files is a normal release.
  const fewer = await bigApp(apps, 'fewer', 6);
  const r = await addRelease(config, '1.1.0', fewer);
  assert.equal(r.version, '1.1.0');
  // An intended rewrite goes through with force.
  const forced = await addRelease(config, '2.0.0', wrong, { force: true });
  assert.equal(forced.version, '2.0.0');
  assert.deepEqual(
    (await readReleases(config)).map((x) => x.version),
    ['1.0.0', '1.1.0', '2.0.0'],
  );
});

test('CLI: release add of an empty folder exits 2 with what to do; a dropping release needs --force', async () => {
  const dir = await tempDir();
  const init = await cli(['init', '--yes', '--app', 'demo'], { cwd: dir });
  assert.equal(init.code, 0, init.stderr);
  await mkdir(join(dir, 'empty'));
  const empty = await cli(['release', 'add', '1.0.0', 'empty'], { cwd: dir });
  assert.equal(empty.code, 2, empty.stdout + empty.stderr);
  assert.doesNotMatch(empty.stdout, /Released/);
  assert.match(empty.stderr, /holds no files/);
  await bigApp(dir, 'full', 9);
  assert.equal((await cli(['release', 'add', '1.0.0', 'full'], { cwd: dir })).code, 0);
  await bigApp(dir, 'wrong', 0);
  const refused = await cli(['release', 'add', '1.1.0', 'wrong'], { cwd: dir });
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /--force/);
  const forced = await cli(['release', 'add', '1.1.0', 'wrong', '--force'], { cwd: dir });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /Released demo 1\.1\.0/);
});
