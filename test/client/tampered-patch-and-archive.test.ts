import assert from 'node:assert/strict';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { exitedPid } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

/**
 * Both the patch and the full archive of 1.1.0 are tampered on the server. The install fails (and
 * the app stays at 1.0.0), but the refused patch must be remembered: each retry goes straight to the
 * full archive instead of downloading the tampered patch again and again.
 */
const served = servedProject();

async function flipByte(path: string, at: number): Promise<() => Promise<void>> {
  const original = await readFile(path);
  const handle = await open(path, 'r+');
  await handle.write(Buffer.from([original[at]! ^ 0xff]), 0, 1, at);
  await handle.close();
  return () => writeFile(path, original);
}

test('a tampered patch is not downloaded again on each retry when the full archive is tampered too', async () => {
  const inst = await served.install('both-tampered');
  const { installDir, stateDir } = inst;
  const before = await hashFolderAsTar(installDir);
  const r = served.project.releases[1]!.result;
  const targets = join(served.project.config.repository, 'targets');
  const patch = (await readdir(targets)).filter((n) => n.endsWith(`.${r.patch!.name}`));
  assert.equal(patch.length, 1);
  const restorePatch = await flipByte(join(targets, patch[0]!), 100);
  const restoreArchive = await flipByte(served.project.targetFile(r.archive.name, r.archive.sha256), 100);
  try {
    const patchGets = (): number =>
      served.server.log.filter((l) => l.path.endsWith(`.${r.patch!.name}`) && l.status < 400).length;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const client = inst.client();
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
    await inst.cleanup();
  }
});
