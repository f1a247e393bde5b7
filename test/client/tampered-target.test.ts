import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import type { Project } from '../support/fixture.js';
import { clientOptions, exitedPid, installVersion, makeProject } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Arbitrary software: the server (or anyone in between) swaps the bytes of the archive and of the
 * patch for others of the same length. TUF's signed hashes must stop the update before anything
 * is unpacked: the install folder stays as it was and no staging folder is left.
 */

let project: Project;
let server: TestServer;

before(async () => {
  project = await makeProject();
  await project.publish('1.0.0');
  await project.publish('1.1.0');
  server = await startTestServer({ root: project.config.repository });
});

after(async () => {
  await server.close();
  await project.cleanup();
});

async function tamper(suffix: string): Promise<() => Promise<void>> {
  const dir = join(project.config.repository, 'targets');
  const name = (await readdir(dir)).find((n) => n.endsWith(suffix));
  assert.ok(name, suffix);
  const path = join(dir, name);
  const original = await readFile(path);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from('evil'), 0, 4, Math.floor(original.length / 2));
  await handle.close();
  return () => writeFile(path, original);
}

test('arbitrary software: tampered archive and patch are refused, the installed app is unchanged', async () => {
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-tampered-'));
  const restores = [await tamper('.demo-1.1.0.patch'), await tamper('.demo-1.1.0.tar.gz')];
  try {
    const installDir = join(root, 'apps', 'demo');
    const stateDir = join(root, 'state');
    await mkdir(dirname(installDir), { recursive: true });
    await installVersion(project, '1.0.0', installDir);
    const before = await hashFolderAsTar(installDir);
    const client = new Client(clientOptions(project, server.url, installDir, stateDir));
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    await assert.rejects(client.install(update, { restart: false, pid: await exitedPid() }), {
      name: 'DataError',
    });
    assert.deepEqual(await hashFolderAsTar(installDir), before);
    assert.deepEqual(await readdir(dirname(installDir)), ['demo'], 'no staging folder');
    const downloads = await readdir(join(stateDir, 'downloads')).catch(() => []);
    assert.deepEqual(downloads, [], 'refused bytes are not kept, not even as .partial');
  } finally {
    for (const restore of restores) await restore();
    await rm(root, { recursive: true, force: true });
  }
});
