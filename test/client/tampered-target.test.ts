import assert from 'node:assert/strict';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { hashFolderAsTar } from '../../src/archive/index.js';
import { exitedPid } from '../support/fixture.js';
import { servedProject } from '../support/world.js';

/**
 * Arbitrary software: the server (or anyone in between) swaps the bytes of the archive and of the
 * patch for others of the same length. TUF's signed hashes must stop the update before anything
 * is unpacked: the install folder stays as it was and no staging folder is left.
 */

const served = servedProject();

async function tamper(suffix: string): Promise<() => Promise<void>> {
  const dir = join(served.project.config.repository, 'targets');
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
  const inst = await served.install('tampered');
  const restores = [await tamper('.demo-1.1.0.patch'), await tamper('.demo-1.1.0.tar.gz')];
  try {
    const { installDir, stateDir } = inst;
    const before = await hashFolderAsTar(installDir);
    const client = inst.client();
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
    await inst.cleanup();
  }
});
