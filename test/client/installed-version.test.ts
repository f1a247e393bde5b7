import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { UsageError } from '../../src/errors.js';
import { clientOptions, exitedPid, installVersion, waitForResult } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

/**
 * Which version is installed when the app does not say (currentVersion left out): the client's own
 * record of the folder (installed.json), else the folder's reproducible tar digest among the
 * signed releases; a folder that matches none is refused, naming the setting to use.
 */

const served = servedProject();

async function world(name: string): Promise<{ root: string; installDir: string; stateDir: string }> {
  const root = await mkdtemp(join(tmpdir(), `notsotuf-installed-${name}-`));
  return { root, installDir: join(root, 'app'), stateDir: join(root, 'state') };
}

function client(installDir: string, stateDir: string, currentVersion?: string): Client {
  const { currentVersion: _, ...options } = clientOptions(
    served.project,
    served.server.url,
    installDir,
    stateDir,
  );
  return new Client(currentVersion === undefined ? options : { ...options, currentVersion });
}

const recordFile = (stateDir: string): string => join(stateDir, 'installed.json');

test('with no record, the folder is identified by its tar digest among the signed releases, and recorded', async () => {
  const { root, installDir, stateDir } = await world('digest');
  try {
    await installVersion(served.project, '1.0.0', installDir);
    const c = client(installDir, stateDir);
    assert.equal(c.currentVersion, undefined);
    const plan = await c.check();
    assert.equal(c.currentVersion, '1.0.0');
    assert.equal(plan.kind, 'patches', 'the folder packs to the signed tar: patches apply to it');
    const record = JSON.parse(await readFile(recordFile(stateDir), 'utf8')) as Record<string, unknown>;
    assert.equal(record.version, '1.0.0');
    assert.deepEqual(record.tar, served.project.releases[0]?.result.tar);
    assert.equal(record.installDir, installDir);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a record that matches the folder names the version without hashing it', async () => {
  const { root, installDir, stateDir } = await world('recorded');
  try {
    await installVersion(served.project, '1.0.0', installDir);
    await client(installDir, stateDir).check();
    // Make the record say 1.1.0 (same fingerprint): only a start that trusts the record without
    // hashing the folder (which packs to 1.0.0) says 1.1.0.
    const record = JSON.parse(await readFile(recordFile(stateDir), 'utf8')) as Record<string, unknown>;
    await writeFile(recordFile(stateDir), JSON.stringify({ ...record, version: '1.1.0' }));
    const c = client(installDir, stateDir);
    assert.equal((await c.check()).kind, 'none');
    assert.equal(c.currentVersion, '1.1.0');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a folder that matches no signed release: NOT_A_RELEASE naming currentVersion, nothing changed', async () => {
  const { root, installDir, stateDir } = await world('unknown');
  try {
    await mkdir(installDir, { recursive: true });
    await writeFile(join(installDir, 'my-own-app.bin'), 'not a release');
    const before = await hashFolderAsTar(installDir);
    const c = client(installDir, stateDir);
    await assert.rejects(
      () => c.check(),
      (e: unknown) =>
        e instanceof UsageError &&
        e.code === 'NOT_A_RELEASE' &&
        /currentVersion/.test(e.message) &&
        /--current-version/.test(e.message),
    );
    assert.deepEqual(await hashFolderAsTar(installDir), before);
    await assert.rejects(stat(recordFile(stateDir)), { code: 'ENOENT' });
    // Saying which version it is works (the app's word).
    assert.equal((await client(installDir, stateDir, '1.0.0').check()).kind, 'full');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a folder changed by hand after it was recorded is identified again: edited is refused, another release is found', async () => {
  const { root, installDir, stateDir } = await world('by-hand');
  try {
    await installVersion(served.project, '1.0.0', installDir);
    await client(installDir, stateDir).check();
    // A file edited in place: the record no longer matches, the digest matches nothing.
    await appendFile(join(installDir, 'version.txt'), 'edited\n');
    await assert.rejects(() => client(installDir, stateDir).check(), { code: 'NOT_A_RELEASE' });
    // The folder replaced by hand with 1.1.0: identified as 1.1.0, and recorded.
    await rm(installDir, { recursive: true });
    await installVersion(served.project, '1.1.0', installDir);
    const c = client(installDir, stateDir);
    assert.equal((await c.check()).kind, 'none');
    assert.equal(c.currentVersion, '1.1.0');
    const record = JSON.parse(await readFile(recordFile(stateDir), 'utf8')) as Record<string, unknown>;
    assert.equal(record.version, '1.1.0');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an empty or missing install folder is INSTALL_DIR_MISSING (install first)', async () => {
  const { root, installDir, stateDir } = await world('empty');
  try {
    await mkdir(installDir, { recursive: true });
    await assert.rejects(() => client(installDir, stateDir).check(), { code: 'INSTALL_DIR_MISSING' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('after an update the record wins over a stale currentVersion, and the installed tar is kept', async () => {
  const { root, installDir, stateDir } = await world('stale');
  try {
    await installVersion(served.project, '1.0.0', installDir);
    const first = client(installDir, stateDir);
    const update = await first.check();
    if (update.kind !== 'patches') throw new Error(`expected patches, got ${update.kind}`);
    const staged = await first.install(update, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    // A config that still says 1.0.0 (written before the update): the record of 1.1.0 wins.
    const stale = client(installDir, stateDir, '1.0.0');
    assert.equal((await stale.check()).kind, 'none');
    assert.equal(stale.currentVersion, '1.1.0');
    assert.equal(
      (await stat(join(stateDir, 'tars', '1.1.0.tar'))).size,
      served.project.releases[1]?.result.tar.length,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
