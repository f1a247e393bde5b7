/**
 * Hostile patch inside a chain: 1.0.0 -> 1.1.0 -> 1.2.0, where the second patch was replaced (and
 * re-signed) by an attacker with the targets key. The first step applies, the second is refused; the
 * intermediate tar is removed, the client installs 1.2.0 from the full archive, and nothing
 * half-written (no step tar, no partial, no work file) is left.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readState } from '../../src/client/state.js';
import { stateLayout } from '../../src/client/state-layout.js';
import { exitedPid, waitForResult } from '../support/fixture.js';
import { compromisedTargets } from '../faults/compromised-targets.js';
import { folderDigest, holdsVersion, servedProject, unfinished } from '../support/world.js';

const served = servedProject(['1.0.0', '1.1.0'], async (project) => {
  const r = await project.publish('1.2.0');
  const name = r.patch!.name;
  const stored = (await readdir(join(project.config.repository, 'targets'))).find((n) =>
    n.endsWith(`.${name}`),
  )!;
  const real = await readFile(join(project.config.repository, 'targets', stored));
  await compromisedTargets(project.config, { [name]: { bytes: real.subarray(0, real.length - 16) } });
});

test('hostile second patch of a chain: refused, the intermediate tar removed, 1.2.0 installed from the full archive', async () => {
  const inst = await served.install('hostile-chain');
  try {
    const client = inst.client();
    const update = await client.check();
    assert.equal(update.kind, 'patches');
    if (update.kind !== 'patches') return;
    assert.deepEqual(
      update.chain.map((s) => s.meta.version),
      ['1.1.0', '1.2.0'],
    );
    const appBefore = await folderDigest(inst.installDir);
    const staged = await client.install(update, { restart: false, pid: await exitedPid() });
    assert.equal(staged.via, 'full');
    assert.equal(staged.fellBack, true);
    assert.deepEqual(await folderDigest(inst.installDir), appBefore, 'nothing swapped yet');
    assert.deepEqual(await unfinished(inst.stateDir), []);
    assert.deepEqual(
      (await readdir(join(inst.stateDir, 'tars'))).sort(),
      ['1.0.0.tar', '1.2.0.tar'],
      'no intermediate tar kept',
    );
    assert.deepEqual((await readState(stateLayout(inst.stateDir))).noPatchesTo, ['1.2.0']);
    await staged.quitAndInstall();
    assert.equal((await waitForResult(inst.stateDir)).outcome, 'installed');
    assert.ok(await holdsVersion(served.project, inst.installDir, '1.2.0'));
  } finally {
    await inst.cleanup();
  }
});
