/**
 * The source tar a patch chain starts from, rebuilt from the install folder on a fresh install
 * (src/client/source-tar.ts). It is cached only when it is byte for byte the tar the publisher
 * signed: an install folder changed locally (a user edit, a bit flip, malware) must not become a
 * trusted cached tar that later updates patch from. The size alone proves nothing: the changed
 * folder below packs to the signed length.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { ensureSourceTar, sourceTarAvailable } from '../../src/client/source-tar.js';
import { cachedTarPath } from '../../src/client/state-layout.js';
import { tempDir } from '../archive/tar-builder.js';

async function installFolder(root: string): Promise<string> {
  const dir = join(root, 'app');
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, 'main.js'), 'console.log("1.0.0");\n');
  await writeFile(join(dir, 'lib', 'data.txt'), 'x'.repeat(5000));
  return dir;
}

test('an install folder that packs to the signed tar is cached as the source tar', async () => {
  const root = await tempDir();
  try {
    const app = await installFolder(root);
    const signed = await hashFolderAsTar(app);
    const tars = join(root, 'tars');
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    const path = await ensureSourceTar(tars, app, '1.0.0', signed);
    assert.equal(path, cachedTarPath(tars, '1.0.0'));
    const bytes = await readFile(path);
    assert.equal(bytes.length, signed.length);
    assert.deepEqual(await readdir(tars), ['1.0.0.tar']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an install folder changed in place (same sizes, other bytes) is not cached: no source tar, nothing left in tars/', async () => {
  const root = await tempDir();
  try {
    const app = await installFolder(root);
    const signed = await hashFolderAsTar(app);
    await writeFile(join(app, 'lib', 'data.txt'), `y${'x'.repeat(4999)}`);
    const changed = await hashFolderAsTar(app);
    assert.equal(changed.length, signed.length, 'the changed folder packs to the signed length');
    assert.notEqual(changed.sha256, signed.sha256);
    const tars = join(root, 'tars');
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), false);
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), undefined);
    assert.deepEqual(await readdir(tars), [], 'no cached tar and no temp file');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('the check keeps the tar it packed: the update does not read the install folder again', async () => {
  const root = await tempDir();
  try {
    const app = await installFolder(root);
    const signed = await hashFolderAsTar(app);
    const tars = join(root, 'tars');
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    assert.deepEqual(await readdir(tars), ['1.0.0.tar'], 'the tar packed while hashing is kept');
    // Were the folder read again, this change would make the source tar unavailable.
    await writeFile(join(app, 'main.js'), 'changed after the check');
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), cachedTarPath(tars, '1.0.0'));
    assert.equal((await readFile(cachedTarPath(tars, '1.0.0'))).length, signed.length);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('where tars/ cannot be written, the check still hashes the folder and finds the source', async () => {
  const root = await tempDir();
  try {
    const app = await installFolder(root);
    const signed = await hashFolderAsTar(app);
    const tars = join(root, 'tars');
    await writeFile(tars, 'a file where the tars folder should be');
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), undefined);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
