import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../src/client/client.js';
import { EMPTY_STATE, installRolloutId, readState, writeState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { acquireUpdateLock } from '../../src/client/update-lock.js';
import { exitedPid } from '../support/fixture.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'notsotuf-state-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the rollout id is created once per install and stays the same', () =>
  withDir(async (dir) => {
    const layout = stateLayout(dir);
    const id = await installRolloutId(layout);
    assert.ok(id >= 0 && id < 100);
    assert.equal(await installRolloutId(layout), id);
    assert.equal(Number((await readFile(layout.installIdFile, 'utf8')).trim()), id);
  }));

test('a damaged install-id is replaced by a valid one', () =>
  withDir(async (dir) => {
    const layout = stateLayout(dir);
    await writeFile(layout.installIdFile, '250\n');
    const id = await installRolloutId(layout);
    assert.ok(id >= 0 && id < 100);
  }));

test('state.json round-trips; damaged or hostile content reads as the empty state', () =>
  withDir(async (dir) => {
    const layout = stateLayout(dir);
    assert.deepEqual(await readState(layout), EMPTY_STATE);
    const state = {
      skipped: ['1.1.0'],
      noPatchesTo: ['1.2.0'],
      pending: {
        version: '1.2.0',
        previousVersion: '1.0.0',
        stagingDir: '/a',
        backupDir: '/b',
        startedAt: 5,
        deadlineMs: 9,
      },
    };
    await writeState(layout, state);
    assert.deepEqual(await readState(layout), state);
    await writeFile(layout.stateFile, '{ not json');
    assert.deepEqual(await readState(layout), EMPTY_STATE);
    await writeFile(
      layout.stateFile,
      JSON.stringify({ skipped: ['../../etc', 3, '1.0'], pending: { version: 1 } }),
    );
    assert.deepEqual(await readState(layout), { skipped: ['1.0'], noPatchesTo: [] });
    await writeFile(layout.stateFile, Buffer.alloc(2 * 1024 * 1024, 32));
    assert.deepEqual(await readState(layout), EMPTY_STATE, 'an oversized state file is not read');
  }));

test('bad client options are usage errors that name the option', () => {
  const good = {
    appName: 'demo',
    installDir: '/tmp/x/app',
    currentVersion: '1.0.0',
    stateDir: '/tmp/x/state',
    metadataUrl: 'http://127.0.0.1:1/metadata',
    targetsUrl: 'http://127.0.0.1:1/targets',
    trustedRoot: '/tmp/x/root.json',
  };
  assert.doesNotThrow(() => new Client(good));
  assert.throws(() => new Client({ ...good, appName: '../evil' }), {
    name: 'UsageError',
    code: 'INVALID_APP_NAME',
  });
  assert.throws(() => new Client({ ...good, currentVersion: 'latest' }), { code: 'INVALID_VERSION' });
  assert.throws(() => new Client({ ...good, channel: 'nightly' as never }), { code: 'INVALID_CHANNEL' });
  assert.throws(() => new Client({ ...good, metadataUrl: 'not a url' }), { code: 'INVALID_URL' });
  assert.throws(() => new Client({ ...good, stateDir: '' }), { code: 'MISSING_OPTION' });
  assert.equal(new Client({ ...good, currentVersion: 'v1.2.0-beta.1' }).currentVersion, '1.2.0b1');
  assert.throws(() => new Client({ ...good, stateDir: '/tmp/x/app/.updates' }), {
    code: 'STATE_IN_INSTALL_DIR',
  });
  assert.throws(() => new Client({ ...good, stateDir: '/tmp/x/app' }), { code: 'STATE_IN_INSTALL_DIR' });
  assert.doesNotThrow(() => new Client({ ...good, stateDir: '/tmp/x/app-state' }));
  // Hand-over timeouts are checked here, not after the download when the installer starts.
  for (const bad of [{ waitTimeoutSeconds: 0 }, { waitTimeoutSeconds: 1.5 }, { healthTimeoutSeconds: -1 }])
    assert.throws(() => new Client({ ...good, ...bad }), { code: 'INVALID_OPTION' }, JSON.stringify(bad));
  assert.doesNotThrow(() => new Client({ ...good, waitTimeoutSeconds: 1, healthTimeoutSeconds: 0 }));
});

test('a missing trusted root is a usage error that says to ship root.json', () =>
  withDir(async (dir) => {
    const client = new Client({
      appName: 'demo',
      installDir: join(dir, 'app'),
      currentVersion: '1.0.0',
      stateDir: join(dir, 'state'),
      metadataUrl: 'http://127.0.0.1:1/metadata',
      targetsUrl: 'http://127.0.0.1:1/targets',
      trustedRoot: join(dir, 'missing-root.json'),
    });
    await assert.rejects(client.check(), { name: 'UsageError', code: 'TRUSTED_ROOT_MISSING' });
  }));

test('one update at a time per state folder; a lock left by a dead process is taken over', () =>
  withDir(async (dir) => {
    const release = await acquireUpdateLock(dir);
    await assert.rejects(acquireUpdateLock(dir), { name: 'InstallError', code: 'UPDATE_IN_PROGRESS' });
    await release();
    const again = await acquireUpdateLock(dir);
    await again();
    await writeFile(join(dir, 'update.lock'), `${await exitedPid()}\n`);
    const takenOver = await acquireUpdateLock(dir);
    assert.equal((await readFile(join(dir, 'update.lock'), 'utf8')).trim(), String(process.pid));
    await takenOver();
  }));

test('a lock file another process has just created but not yet written its pid into is not taken over; an old empty one is', () =>
  withDir(async (dir) => {
    const lock = join(dir, 'update.lock');
    // What a second instance sees between the other's exclusive create and its write of the pid.
    await writeFile(lock, '');
    await assert.rejects(acquireUpdateLock(dir), { name: 'InstallError', code: 'UPDATE_IN_PROGRESS' });
    assert.equal(await readFile(lock, 'utf8'), '', 'the other process keeps its lock');
    // A writer that died before writing its pid, long ago: stale.
    const past = new Date(Date.now() - 10 * 60 * 1000);
    await utimes(lock, past, past);
    const release = await acquireUpdateLock(dir);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(process.pid));
    await release();
  }));
