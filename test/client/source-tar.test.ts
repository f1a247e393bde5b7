/**
 * The source tar a patch chain starts from, rebuilt from the install folder on a fresh install
 * (src/client/source-tar.ts). It is cached only when it is byte for byte the tar the publisher
 * signed: an install folder changed locally (a user edit, a bit flip, malware) must not become a
 * trusted cached tar that later updates patch from. The size alone proves nothing: the changed
 * folder below packs to the signed length.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { ensureSourceTar, sourceTarAvailable } from '../../src/client/source-tar.js';
import { cachedTarPath } from '../../src/client/state-layout.js';
import type { Digest } from '../../src/core/custom-metadata.js';
import { withTempDir } from '../support/temp-dir.js';

/** An install folder of version 1.0.0, the digest of the tar it packs to, and a tars/ path. */
interface Install {
  app: string;
  signed: Digest;
  tars: string;
}

/** Runs `fn` with a fresh install folder in a temp folder (removed afterwards). */
function withInstall(fn: (install: Install) => Promise<void>): Promise<void> {
  return withTempDir(async (root) => {
    const app = join(root, 'app');
    await mkdir(join(app, 'lib'), { recursive: true });
    await writeFile(join(app, 'main.js'), 'console.log("1.0.0");\n');
    await writeFile(join(app, 'lib', 'data.txt'), 'x'.repeat(5000));
    await fn({ app, signed: await hashFolderAsTar(app), tars: join(root, 'tars') });
  });
}

test('an install folder that packs to the signed tar is cached as the source tar', () =>
  withInstall(async ({ app, signed, tars }) => {
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    const path = await ensureSourceTar(tars, app, '1.0.0', signed);
    assert.equal(path, cachedTarPath(tars, '1.0.0'));
    const bytes = await readFile(path);
    assert.equal(bytes.length, signed.length);
    assert.deepEqual(await readdir(tars), ['1.0.0.tar']);
  }));

test('an install folder changed in place (same sizes, other bytes) is not cached: no source tar, nothing left in tars/', () =>
  withInstall(async ({ app, signed, tars }) => {
    await writeFile(join(app, 'lib', 'data.txt'), `y${'x'.repeat(4999)}`);
    const changed = await hashFolderAsTar(app);
    assert.equal(changed.length, signed.length, 'the changed folder packs to the signed length');
    assert.notEqual(changed.sha256, signed.sha256);
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), false);
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), undefined);
    assert.deepEqual(await readdir(tars), [], 'no cached tar and no temp file');
  }));

test('the check keeps the tar it packed: the update does not read the install folder again', () =>
  withInstall(async ({ app, signed, tars }) => {
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    assert.deepEqual(await readdir(tars), ['1.0.0.tar'], 'the tar packed while hashing is kept');
    // Were the folder read again, this change would make the source tar unavailable.
    await writeFile(join(app, 'main.js'), 'changed after the check');
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), cachedTarPath(tars, '1.0.0'));
    assert.equal((await readFile(cachedTarPath(tars, '1.0.0'))).length, signed.length);
  }));

test('where tars/ cannot be written, the check still hashes the folder and finds the source', () =>
  withInstall(async ({ app, signed, tars }) => {
    await writeFile(tars, 'a file where the tars folder should be');
    assert.equal(await sourceTarAvailable(tars, app, '1.0.0', signed), true);
    assert.equal(await ensureSourceTar(tars, app, '1.0.0', signed), undefined);
  }));
