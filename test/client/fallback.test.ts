import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import type { DownloadProgress } from '../../src/client/client-options.js';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { clientOptions, exitedPid, installVersion, makeProject, waitForResult } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import { servedProject } from '../support/world.js';

const served = servedProject();

/** A fresh install of 1.0.0 and its client. */
async function setup(
  name: string,
): Promise<{ root: string; installDir: string; stateDir: string; client: Client }> {
  const { root, installDir, stateDir, client } = await served.install(name);
  return { root, installDir, stateDir, client: client() };
}

async function flipByte(path: string, at: number): Promise<() => Promise<void>> {
  const original = await readFile(path);
  const handle = await open(path, 'r+');
  const b = Buffer.from([original[at]! ^ 0xff]);
  await handle.write(b, 0, 1, at);
  await handle.close();
  return () => writeFile(path, original);
}

test('a corrupted patch on the server (hash mismatch) falls back to the full archive, remembered', async () => {
  const { root, installDir, stateDir, client } = await setup('corrupt-patch');
  const p = served.project.releases[1]!.result;
  const restore = await flipByte(await patchFile(p.patch!.name), 100);
  try {
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    served.server.log.length = 0;
    const staged = await client.install(update, { restart: false, pid: await exitedPid() });
    assert.equal(staged.via, 'full');
    assert.equal(staged.fellBack, true);
    const targets = served.server.log.filter((r) => r.path.startsWith('/targets/')).map((r) => r.path);
    assert.ok(targets.some((t) => t.endsWith('.demo-1.1.0.patch')));
    assert.ok(targets.some((t) => t.endsWith('.demo-1.1.0.tar.gz')));
    assert.deepEqual((await readState(stateLayout(stateDir))).noPatchesTo, ['1.1.0']);
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.deepEqual(await hashFolderAsTar(installDir), p.tar);
  } finally {
    await restore();
    await rm(root, { recursive: true, force: true });
  }
});

test('a patch that fails to apply (damaged cached source tar) falls back to the full archive', async () => {
  const { root, installDir, stateDir, client } = await setup('bad-source');
  try {
    const tar0 = served.project.releases[0]!.result.tar;
    await mkdir(join(stateDir, 'tars'), { recursive: true });
    // Right length, wrong bytes: only the patch engine's source check can tell.
    await writeFile(join(stateDir, 'tars', '1.0.0.tar'), Buffer.alloc(tar0.length, 7));
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    const staged = await client.install(update, { restart: false, pid: await exitedPid() });
    assert.equal(staged.via, 'full');
    assert.equal(staged.fellBack, true);
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[1]!.result.tar);
    // Once patches failed for a version, the next plan for it is the full archive straight away.
    const again = await new Client(
      clientOptions(served.project, served.server.url, join(root, 'other'), stateDir),
    ).check();
    assert.equal(again.kind, 'full');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a modified install folder does not rebuild to the signed tar: the update is the full archive', async () => {
  const { root, installDir, client } = await setup('modified');
  try {
    await writeFile(join(installDir, 'version.txt'), 'tampered\n');
    const update = await client.check();
    assert.equal(update.kind, 'full');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

async function patchFile(name: string): Promise<string> {
  const dir = join(served.project.config.repository, 'targets');
  const found = (await readdir(dir)).filter((n) => n.endsWith(`.${name}`));
  assert.equal(found.length, 1, `one stored ${name}`);
  return join(dir, found[0]!);
}

test('updateAndRestart: check, install and hand over in one call; none when up to date', async () => {
  const { root, installDir, stateDir, client } = await setup('one-call');
  try {
    const result = await client.updateAndRestart({ restart: false, pid: await exitedPid() });
    assert.equal(result.kind, 'handed-over');
    if (result.kind !== 'handed-over') return;
    assert.equal(result.version, '1.1.0');
    assert.equal(result.via, 'patches');
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[1]!.result.tar);
    const next = new Client({
      ...clientOptions(served.project, served.server.url, installDir, stateDir),
      currentVersion: '1.1.0',
    });
    assert.deepEqual(await next.updateAndRestart(), { kind: 'none' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('cancelling an install stops it without falling back; nothing is staged, the app is unchanged', async () => {
  const { root, installDir, stateDir, client } = await setup('cancel-install');
  try {
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    const controller = new AbortController();
    served.server.log.length = 0;
    await assert.rejects(
      client.install(update, {
        signal: controller.signal,
        restart: false,
        onStage: (stage) => {
          if (stage === 'rebuild') controller.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.ok(!served.server.log.some((r) => r.path.endsWith('.tar.gz')), 'no fall back to the full archive');
    assert.deepEqual((await readState(stateLayout(stateDir))).noPatchesTo, []);
    assert.deepEqual(await readdir(dirname(installDir)), ['demo']);
    assert.deepEqual(await hashFolderAsTar(installDir), served.project.releases[0]!.result.tar);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a corrupted patch that was signed as it is (a publisher bug) fails to apply: full archive instead', async () => {
  const other = await makeProject();
  const otherServer = await startTestServer({ root: other.config.repository });
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-signed-corrupt-'));
  try {
    await other.publish('1.0.0');
    await other.publish('1.1.0', {}, { corruptPatch: true });
    const installDir = join(root, 'apps', 'demo');
    const stateDir = join(root, 'state');
    await mkdir(dirname(installDir), { recursive: true });
    await installVersion(other, '1.0.0', installDir);
    const client = new Client(clientOptions(other, otherServer.url, installDir, stateDir));
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    const progress: DownloadProgress[] = [];
    const staged = await client.install(update, {
      restart: false,
      pid: await exitedPid(),
      onProgress: (p) => progress.push(p),
    });
    assert.equal(staged.via, 'full');
    assert.equal(staged.fellBack, true);
    // One download progress over the whole update: the archive's bytes continue after the patch's.
    const downloads = progress.filter((p) => p.stage === 'download');
    const whole = update.downloadBytes + update.archive.target.length;
    assert.deepEqual([downloads.at(-1)?.bytesDone, downloads.at(-1)?.totalBytes], [whole, whole]);
    assert.ok(downloads.every((p, i) => i === 0 || p.bytesDone >= downloads[i - 1]!.bytesDone));
    const targets = otherServer.log.filter((r) => r.path.startsWith('/targets/')).map((r) => r.path);
    assert.ok(
      targets.some((t) => t.endsWith('.demo-1.1.0.patch')),
      'the patch was downloaded (it verifies)',
    );
    assert.ok(
      targets.some((t) => t.endsWith('.demo-1.1.0.tar.gz')),
      'then the full archive',
    );
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.deepEqual(await hashFolderAsTar(installDir), other.releases[1]!.result.tar);
  } finally {
    await otherServer.close();
    await rm(root, { recursive: true, force: true });
    await other.cleanup();
  }
});
