import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { clientOptions, exitedPid, installVersion, makeProject, waitForResult } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';

test('a required release published with the real publisher stops the update there; the next one goes on', async () => {
  const project = await makeProject();
  const server = await startTestServer({ root: project.config.repository });
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-required-'));
  try {
    await project.publish('1.0.0');
    await project.publish('1.1.0', {}, { required: true });
    await project.publish('1.2.0');
    const installDir = join(root, 'apps', 'demo');
    const stateDir = join(root, 'state');
    await mkdir(dirname(installDir), { recursive: true });
    await installVersion(project, '1.0.0', installDir);
    const options = clientOptions(project, server.url, installDir, stateDir);

    const first = await new Client(options).check();
    assert.equal(first.kind, 'patches');
    if (first.kind !== 'patches') return;
    assert.equal(first.version, '1.1.0');
    assert.equal(first.release.required, true);
    const staged = await new Client(options).install(first, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(stateDir)).outcome, 'installed');
    assert.deepEqual(await hashFolderAsTar(installDir), project.releases[1]?.result.tar);

    const second = await new Client({ ...options, currentVersion: '1.1.0' }).check();
    assert.equal(second.kind === 'none' ? 'none' : second.version, '1.2.0');
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
    await project.cleanup();
  }
});
