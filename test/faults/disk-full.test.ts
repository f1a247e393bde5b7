/**
 * Fault: the disk fills up while the update downloads (the state folder on a small tmpfs) or while
 * it unpacks (the install folder's parent, where the staging folder goes, on a small tmpfs). The
 * client must fail with an InstallError that says to free space, leave no partial file under a
 * final name and no staging folder, keep the app and its trusted metadata as they were, and the
 * next run (after space is freed) must succeed. Needs root to mount a tmpfs: skipped, with the
 * reason, where mounting is refused.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { InstallError } from '../../src/errors.js';
import { clientOptions, exitedPid, installVersion, waitForResult } from '../support/fixture.js';
import { mountTmpfs, remount } from '../helpers/tmpfs.js';
import { cachedState, folderDigest, holdsVersion, servedProject, unfinished } from '../support/world.js';
import { skipTestUnlessTool } from '../helpers/skip.js';

const served = servedProject();

function assertFreeSpaceError(e: unknown): true {
  assert.ok(e instanceof InstallError, `an InstallError, got ${String(e)}`);
  assert.match(e.message, /free (some )?(disk )?space|disk is full|no space/i, e.message);
  return true;
}

test('disk full while downloading: InstallError about free space, no partial file under a final name, app intact; the next run succeeds', async (t) => {
  const fs = await mountTmpfs(160);
  if (!fs.ok) {
    skipTestUnlessTool(t, fs.reason);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-disk-full-dl-'));
  try {
    const installDir = join(root, 'apps', 'demo');
    await mkdir(join(root, 'apps'));
    await installVersion(served.project, '1.0.0', installDir);
    await writeFile(join(installDir, 'local-change.txt'), 'x'); // plan: the full archive
    const stateDir = join(fs.dir, 'state');
    const options = clientOptions(served.project, served.server.url, installDir, stateDir);
    const appBefore = await folderDigest(installDir);
    const client = new Client(options);
    const update = await client.check();
    assert.equal(update.kind, 'full');
    const metadataBefore = await cachedState(stateDir);
    await assert.rejects(
      client.install(update, { restart: false, pid: await exitedPid() }),
      assertFreeSpaceError,
    );
    assert.deepEqual(await folderDigest(installDir), appBefore);
    assert.deepEqual(
      await cachedState(stateDir),
      metadataBefore,
      'trusted metadata unchanged, no tar cached',
    );
    const downloads = await readdir(join(stateDir, 'downloads'));
    assert.ok(
      downloads.every((n) => n.endsWith('.partial')),
      downloads.join(', '),
    );
    assert.deepEqual(await readdir(join(root, 'apps')), ['demo'], 'no staging folder');

    await remount(fs.dir, { sizeKiB: 4096 });
    const again = new Client(options);
    const next = await again.check();
    assert.equal(next.kind, 'full');
    const staged = await again.install(next, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.ok(await holdsVersion(served.project, installDir, '1.1.0'));
  } finally {
    await fs.unmount();
    await rm(root, { recursive: true, force: true });
  }
});

test('disk full while unpacking: InstallError about free space, no staging folder left, app intact; the next run succeeds', async (t) => {
  const fs = await mountTmpfs(420);
  if (!fs.ok) {
    skipTestUnlessTool(t, fs.reason);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-disk-full-unpack-'));
  try {
    const installDir = join(fs.dir, 'demo');
    await installVersion(served.project, '1.0.0', installDir);
    const stateDir = join(root, 'state');
    const options = clientOptions(served.project, served.server.url, installDir, stateDir);
    const appBefore = await folderDigest(installDir);
    const client = new Client(options);
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    const metadataBefore = new Map(
      [...(await cachedState(stateDir))].filter(([k]) => k.startsWith('metadata/')),
    );
    await assert.rejects(
      client.install(update, { restart: false, pid: await exitedPid() }),
      assertFreeSpaceError,
    );
    assert.deepEqual(await folderDigest(installDir), appBefore);
    assert.deepEqual(await readdir(fs.dir), ['demo'], 'the staging folder was removed');
    const after = await cachedState(stateDir);
    assert.deepEqual(new Map([...after].filter(([k]) => k.startsWith('metadata/'))), metadataBefore);
    assert.ok(!after.has('tars/1.1.0.tar'), 'the new tar is not cached as if the update had staged');
    assert.deepEqual(await unfinished(stateDir), []);

    await remount(fs.dir, { sizeKiB: 4096 });
    const again = new Client(options);
    const next = await again.check();
    assert.notEqual(next.kind, 'none');
    if (next.kind === 'none') return;
    const staged = await again.install(next, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.ok(await holdsVersion(served.project, installDir, '1.1.0'));
  } finally {
    await fs.unmount();
    await rm(root, { recursive: true, force: true });
  }
});

test('disk full while rebuilding the new tar from the patch: InstallError about free space, nothing under a final name, app intact; the next run succeeds', async (t) => {
  const fs = await mountTmpfs(420);
  if (!fs.ok) {
    skipTestUnlessTool(t, fs.reason);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-disk-full-rebuild-'));
  try {
    const installDir = join(root, 'apps', 'demo');
    await mkdir(join(root, 'apps'));
    await installVersion(served.project, '1.0.0', installDir);
    // Room for the metadata, the patch and the installed version's tar (about 270 KiB), not for a second tar.
    const stateDir = join(fs.dir, 'state');
    const options = clientOptions(served.project, served.server.url, installDir, stateDir);
    const appBefore = await folderDigest(installDir);
    const client = new Client(options);
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    const metadataBefore = new Map(
      [...(await cachedState(stateDir))].filter(([k]) => k.startsWith('metadata/')),
    );
    await assert.rejects(client.install(update, { restart: false, pid: await exitedPid() }), (e) => {
      assertFreeSpaceError(e);
      // Failing to write the rebuilt tar counts as a failed patch: the fallback's download then
      // meets the same full disk, and that is what is reported.
      assert.equal((e as InstallError).code, 'DISK_FULL', (e as Error).message);
      return true;
    });
    assert.deepEqual(await folderDigest(installDir), appBefore);
    assert.deepEqual(await readdir(join(root, 'apps')), ['demo'], 'no staging folder');
    const after = await cachedState(stateDir);
    assert.deepEqual(new Map([...after].filter(([k]) => k.startsWith('metadata/'))), metadataBefore);
    assert.ok(!after.has('tars/1.1.0.tar'));
    // The source tar was made, so it was the rebuilt tar that did not fit.
    assert.ok(after.has('tars/1.0.0.tar'), [...after.keys()].join(', '));
    const left = await unfinished(stateDir);
    assert.ok(
      left.every((p) => p.endsWith('.partial') && p.startsWith('downloads/')),
      left.join(', '),
    );

    await remount(fs.dir, { sizeKiB: 4096 });
    const again = new Client(options);
    const next = await again.check();
    assert.notEqual(next.kind, 'none');
    if (next.kind === 'none') return;
    const staged = await again.install(next, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.ok(await holdsVersion(served.project, installDir, '1.1.0'));
  } finally {
    await fs.unmount();
    await rm(root, { recursive: true, force: true });
  }
});
