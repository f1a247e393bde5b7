/**
 * What a client's start-up cleanup may delete beside the install folder: only what an update made
 * (staging, backup and failed folders named with a version), never a user's own files that happen
 * to share the prefix, and never another running instance's staged update.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { clientOptions, installVersion, waitForResult } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

const served = servedProject();

test("start-up cleanup keeps the user's own files beside the install folder that only share a prefix", async () => {
  const { root, installDir, stateDir } = await served.install('user-files');
  try {
    const parent = dirname(installDir);
    // The user's own files and folders; none was made by an update.
    await writeFile(join(parent, 'demo.failed-login-notes.txt'), 'mine');
    await mkdir(join(parent, 'demo.failed-experiments'));
    await writeFile(join(parent, 'demo.failed-experiments', 'work.txt'), 'mine too');
    // What an update leaves: these go.
    await mkdir(`${installDir}.notsotuf-staging-1.1.0`);
    await mkdir(`${installDir}.failed-1.1.0`);
    const client = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    assert.equal((await client.check()).kind, 'patches');
    assert.deepEqual((await readdir(parent)).sort(), [
      'demo',
      'demo.failed-experiments',
      'demo.failed-login-notes.txt',
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a second instance of the app starting does not delete the first one's staged update", async () => {
  const { root, installDir, stateDir } = await served.install('two-instances');
  try {
    const first = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    const update = await first.check();
    assert.notEqual(update.kind, 'none');
    if (update.kind === 'none') return;
    const staged = await first.install(update, { restart: false });
    const stagingDir = `${installDir}.notsotuf-staging-1.1.0`;
    assert.ok(existsSync(stagingDir));
    // The user opens the app a second time while the first waits for "restart now".
    const second = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    await second.check();
    assert.ok(existsSync(stagingDir), "the first instance's staged version is still there");
    assert.ok(
      existsSync(join(stateDir, 'tars', '1.1.0.tar')),
      "and so is its tar, which the next update's patches apply to",
    );
    assert.equal(staged.version, '1.1.0');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a second instance does not rebuild a staged folder that the first has already handed to its installer', async () => {
  const { root, installDir, stateDir } = await served.install('handed-over');
  try {
    // The installer waits for this (live) test process, gives up after 1 s and changes nothing.
    const options = {
      ...clientOptions(served.project, served.server.url, installDir, stateDir),
      waitTimeoutSeconds: 1,
    };
    const first = new Client(options);
    const second = new Client(options);
    const update = await first.check();
    const late = await second.check(); // before the first hands over
    assert.ok(update.kind !== 'none' && late.kind !== 'none');
    const staged = await first.install(update, { restart: false, pid: process.pid });
    await staged.quitAndInstall();
    // The installer may swap that folder at any moment: the second instance must not rebuild it.
    await assert.rejects(second.install(late, { restart: false }), {
      name: 'InstallError',
      code: 'HANDOVER_PENDING',
    });
    const result = await waitForResult(stateDir);
    assert.equal(result.outcome, 'failed');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a state folder that holds someone else's files (e.g. the home folder by mistake) is refused before anything in it is cleaned", async () => {
  const { root, installDir } = await served.install('shared-state');
  try {
    const home = join(root, 'home');
    await mkdir(join(home, 'work'), { recursive: true });
    await mkdir(join(home, 'tars'), { recursive: true });
    await mkdir(join(home, 'Documents'), { recursive: true });
    await writeFile(join(home, 'work', 'thesis.txt'), 'years of work');
    await writeFile(join(home, 'tars', 'backup.tar'), 'a backup');
    const client = new Client(clientOptions(served.project, served.server.url, installDir, home));
    await assert.rejects(client.check(), { name: 'UsageError', code: 'STATE_DIR_NOT_OURS' });
    assert.deepEqual((await readdir(join(home, 'work'))).sort(), ['thesis.txt']);
    assert.deepEqual((await readdir(join(home, 'tars'))).sort(), ['backup.tar']);
    // A new or empty folder is taken, and stays ours across starts.
    const own = join(root, 'own-state');
    await mkdir(own);
    assert.notEqual(
      (await new Client(clientOptions(served.project, served.server.url, installDir, own)).check()).kind,
      'none',
    );
    assert.notEqual(
      (await new Client(clientOptions(served.project, served.server.url, installDir, own)).check()).kind,
      'none',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an instance started before another one updated the install folder does not install over it (no downgrade from a stale current version)', async () => {
  const { root, installDir, stateDir } = await served.install('stale-instance');
  try {
    const stale = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    const update = await stale.check();
    assert.equal(update.kind === 'none' ? 'none' : update.version, '1.1.0');
    if (update.kind === 'none') return;
    // Meanwhile another instance's installer swapped a newer version in (folder renames, as it does).
    const newer = join(root, 'apps', 'demo.notsotuf-staging-1.1.0');
    await installVersion(served.project, '1.1.0', newer);
    await rename(installDir, join(root, 'apps', 'demo.notsotuf-backup-1.0.0'));
    await rename(newer, installDir);
    await rm(join(root, 'apps', 'demo.notsotuf-backup-1.0.0'), { recursive: true });
    await assert.rejects(stale.install(update, { restart: false }), {
      name: 'InstallError',
      code: 'INSTALL_DIR_REPLACED',
    });
    assert.deepEqual(await readdir(join(root, 'apps')), ['demo'], 'nothing staged');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a hand-over that could not start leaves no pending hand-over behind: the update is offered again at once', async () => {
  const { root, installDir, stateDir } = await served.install('handover-fails');
  try {
    const client = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    const update = await client.check();
    if (update.kind === 'none') assert.fail('an update');
    const staged = await client.install(update, { restart: false, pid: process.pid });
    // The installer script cannot be written: its name is taken by a folder.
    await mkdir(join(stateDir, 'handover', 'install.sh', 'in-the-way'), { recursive: true });
    await assert.rejects(staged.quitAndInstall(), { name: 'InstallError', code: 'HANDOVER_WRITE_FAILED' });
    await rm(join(stateDir, 'handover', 'install.sh'), { recursive: true });
    const again = new Client(clientOptions(served.project, served.server.url, installDir, stateDir));
    assert.equal((await again.check()).kind === 'none' ? 'none' : 'offered', 'offered');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
