import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { Client } from '../../src/client/client.js';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import type { Project } from '../support/fixture.js';
import { clientOptions, exitedPid, installVersion, makeProject } from '../support/fixture.js';
import { startTestServer } from '../support/test-server.js';
import type { TestServer } from '../support/test-server.js';

/**
 * Both the patch and the full archive of 1.1.0 are tampered on the server. The install fails (and
 * the app stays at 1.0.0), but the refused patch must be remembered: each retry goes straight to the
 * full archive instead of downloading the tampered patch again and again.
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

async function flipByte(path: string, at: number): Promise<() => Promise<void>> {
  const original = await readFile(path);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from([original[at]! ^ 0xff]), 0, 1, at);
  await handle.close();
  return () => writeFile(path, original);
}

test('a tampered patch is not downloaded again on each retry when the full archive is tampered too', async () => {
  const root = await mkdtemp(join(tmpdir(), 'notsotuf-both-tampered-'));
  const installDir = join(root, 'apps', 'demo');
  const stateDir = join(root, 'state');
  await mkdir(dirname(installDir), { recursive: true });
  await installVersion(project, '1.0.0', installDir);
  const before = await hashFolderAsTar(installDir);
  const r = project.releases[1]!.result;
  const targets = join(project.config.repository, 'targets');
  const patch = (await readdir(targets)).filter((n) => n.endsWith(`.${r.patch!.name}`));
  assert.equal(patch.length, 1);
  const restorePatch = await flipByte(join(targets, patch[0]!), 100);
  const restoreArchive = await flipByte(project.targetFile(r.archive.name, r.archive.sha256), 100);
  try {
    const patchGets = (): number =>
      server.log.filter((l) => l.path.endsWith(`.${r.patch!.name}`) && l.status < 400).length;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const client = new Client(clientOptions(project, server.url, installDir, stateDir));
      const update = await client.check();
      assert.equal(update.kind, attempt === 1 ? 'patches' : 'full', `attempt ${attempt}`);
      await assert.rejects(client.install(update, { restart: false, pid: await exitedPid() }), {
        name: 'DataError',
      });
      assert.deepEqual(await hashFolderAsTar(installDir), before, 'the installed app is unchanged');
    }
    assert.equal(patchGets(), 1, 'the tampered patch was fetched once, not on every retry');
    assert.deepEqual((await readState(stateLayout(stateDir))).noPatchesTo, ['1.1.0']);
  } finally {
    await restorePatch();
    await restoreArchive();
    await rm(root, { recursive: true, force: true });
  }
});
