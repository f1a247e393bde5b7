/**
 * Fault: the install folder's volume is read-only (a tmpfs remounted `ro`, which binds root too,
 * unlike chmod): before the update is staged (the staging folder cannot be made) and after it was
 * staged (the installer cannot move the installed version aside). Either way the client or the
 * installer reports a clear failure, nothing is moved, and the old version still runs; once the
 * volume is writable again the next update succeeds. A locked file (Windows) is the Windows
 * installer's test, not this one. Needs root to mount: skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { InstallError } from '../../src/errors.js';
import { clientOptions, exitedPid, installVersion, waitForResult } from '../support/fixture.js';
import { mountTmpfs, remount } from '../helpers/tmpfs.js';
import { folderDigest, holdsVersion, servedProject } from '../support/world.js';
import { skipTestUnlessTool } from '../helpers/skip.js';

const run = promisify(execFile);

const served = servedProject();

/** The installed app answers with its version (its own run.sh, run for real). */
async function runs(installDir: string): Promise<string> {
  return (await run('/bin/sh', [join(installDir, 'run.sh')])).stdout.trim();
}

async function updateSucceeds(options: ReturnType<typeof clientOptions>): Promise<void> {
  const client = new Client(options);
  const update = await client.check();
  assert.notEqual(update.kind, 'none');
  if (update.kind === 'none') return;
  const staged = await client.install(update, { restart: false, pid: await exitedPid() });
  await staged.quitAndInstall();
  assert.equal((await waitForResult(options.stateDir)).outcome, 'installed');
  assert.ok(await holdsVersion(served.project, options.installDir, '1.1.0'));
  assert.equal(await runs(options.installDir), '1.1.0');
}

test('read-only install volume before staging: InstallError, nothing written, the old version runs; writable again, the update succeeds', async (t) => {
  const fs = await mountTmpfs(2048);
  if (!fs.ok) {
    skipTestUnlessTool(t, fs.reason);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-ro-before-'));
  try {
    const installDir = join(fs.dir, 'demo');
    await installVersion(served.project, '1.0.0', installDir);
    const options = clientOptions(served.project, served.server.url, installDir, join(root, 'state'));
    const appBefore = await folderDigest(installDir);
    await remount(fs.dir, 'ro');
    const client = new Client(options);
    const update = await client.check();
    assert.notEqual(update.kind, 'none');
    if (update.kind === 'none') return;
    await assert.rejects(client.install(update, { restart: false, pid: await exitedPid() }), (e) => {
      assert.ok(e instanceof InstallError, String(e));
      assert.match(e.message, /permission|read-only|writable/i, e.message);
      return true;
    });
    assert.deepEqual(await folderDigest(installDir), appBefore);
    assert.deepEqual(await readdir(fs.dir), ['demo']);
    assert.equal(await runs(installDir), '1.0.0');

    await remount(fs.dir, 'rw');
    await updateSucceeds(options);
  } finally {
    await remount(fs.dir, 'rw').catch(() => undefined);
    await fs.unmount();
    await rm(root, { recursive: true, force: true });
  }
});

test('read-only install volume at the swap: the installer fails cleanly with nothing moved, the old version runs; writable again, the update succeeds', async (t) => {
  const fs = await mountTmpfs(2048);
  if (!fs.ok) {
    skipTestUnlessTool(t, fs.reason);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-ro-swap-'));
  try {
    const installDir = join(fs.dir, 'demo');
    await installVersion(served.project, '1.0.0', installDir);
    const options = clientOptions(served.project, served.server.url, installDir, join(root, 'state'));
    const appBefore = await folderDigest(installDir);
    const client = new Client(options);
    const update = await client.check();
    assert.notEqual(update.kind, 'none');
    if (update.kind === 'none') return;
    const staged = await client.install(update, { restart: false, pid: await exitedPid() });
    await remount(fs.dir, 'ro');
    await staged.quitAndInstall();
    const result = await waitForResult(options.stateDir);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /could not move the installed version aside/);
    assert.deepEqual(await folderDigest(installDir), appBefore);
    assert.equal(await runs(installDir), '1.0.0');
    // The next start of the old version hears about it, and the update is offered again.
    const next = new Client(options);
    const again = await next.check();
    assert.equal(next.lastHandover?.outcome, 'failed');
    assert.notEqual(again.kind, 'none');

    await remount(fs.dir, 'rw');
    await updateSucceeds(options);
  } finally {
    await remount(fs.dir, 'rw').catch(() => undefined);
    await fs.unmount();
    await rm(root, { recursive: true, force: true });
  }
});
