/**
 * Downgrade: signed metadata cannot move an install to a lower version. The publisher publishes
 * 2.0.0, then takes it back (`release remove-latest`) and publishes 1.5.0: an install on 2.0.0 is
 * offered nothing, while one on 1.0.0 gets 1.5.0. A compromised targets key that lists an older
 * build as the only release, or relabels nothing but lowers versions, gets the same answer.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeLatestRelease } from '../../src/repo/release.js';
import { exitedPid, waitForResult } from '../support/fixture.js';
import { compromisedTargets } from '../faults/compromised-targets.js';
import { cachedState, folderDigest, holdsVersion, servedProject } from '../support/world.js';

const served = servedProject(['1.0.0', '2.0.0']);

test('downgrade: after remove-latest and a lower release, an install on 2.0.0 stays on 2.0.0, one on 1.0.0 gets 1.5.0', async () => {
  const high = await served.install('downgrade-high', { version: '2.0.0' });
  const low = await served.install('downgrade-low');
  try {
    // The 2.0.0 install trusts the repository as it was when 2.0.0 was the newest.
    assert.deepEqual(await high.client().check(), { kind: 'none' });
    await removeLatestRelease(served.project.config);
    await served.project.publish('1.5.0');
    const appBefore = await folderDigest(high.installDir);
    assert.deepEqual(await high.client().check(), { kind: 'none' });
    assert.deepEqual(await folderDigest(high.installDir), appBefore);
    assert.ok(![...(await cachedState(high.stateDir)).keys()].some((k) => k.startsWith('tars/')));

    const client = low.client();
    const update = await client.check();
    assert.notEqual(update.kind, 'none');
    if (update.kind === 'none') return;
    assert.equal(update.version, '1.5.0');
    const staged = await client.install(update, { restart: false, pid: await exitedPid() });
    await staged.quitAndInstall();
    assert.equal((await waitForResult(low.stateDir)).outcome, 'installed');
    assert.ok(await holdsVersion(served.project, low.installDir, '1.5.0'));
  } finally {
    await high.cleanup();
    await low.cleanup();
  }
});

test('downgrade: a compromised targets key that lists only 1.0.0 moves no install down', async () => {
  const inst = await served.install('downgrade-only-old', { version: '2.0.0' });
  try {
    assert.deepEqual(await inst.client().check(), { kind: 'none' });
    const names = Object.fromEntries(
      served.project.releases
        .filter((r) => r.version !== '1.0.0')
        .flatMap((r) => [r.result.archive.name, ...(r.result.patch ? [r.result.patch.name] : [])])
        .map((n) => [n, { remove: true }]),
    );
    await compromisedTargets(served.project.config, names);
    const appBefore = await folderDigest(inst.installDir);
    assert.deepEqual(await inst.client().check(), { kind: 'none' });
    assert.deepEqual(await inst.client({ channel: 'dev' }).check(), { kind: 'none' });
    assert.deepEqual(await folderDigest(inst.installDir), appBefore);
    // TUF accepted the (validly signed) listing: the refusal is the plan's, not a verification error.
    const trusted = await readFile(join(inst.stateDir, 'metadata', 'targets.json'), 'utf8');
    assert.ok(trusted.includes('demo-1.0.0.tar.gz') && !trusted.includes('demo-2.0.0.tar.gz'));
  } finally {
    await inst.cleanup();
  }
});
